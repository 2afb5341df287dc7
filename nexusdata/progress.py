"""The one progress bar of the blocking calls (collectors and ``record``): ``tqdm.auto``, shown
only where someone can see it, in a Jupyter kernel (as a widget) or on a terminal (as text on
stderr). In a kernel the widget is replaced, when the run ends, by its final line as text: a
saved notebook keeps that, where a widget would show "Error displaying widget" on reopening."""

from __future__ import annotations

import math
import sys
from typing import Any


def in_kernel() -> bool:
    """Whether this code runs in a Jupyter kernel (IPython with a kernel attached)."""
    ipython = sys.modules.get("IPython")  # never imported here: not loaded means no kernel
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def interactive() -> bool:
    """Whether progress can be seen: in a Jupyter kernel, or with a terminal on stderr."""
    return in_kernel() or (sys.stderr is not None and sys.stderr.isatty())


WARNING_CHARS = 72
"""Characters of a warning a progress bar shows."""


def _gist(warning: str) -> str:
    """What a warning says happened (before its first ``: ``), cut to :data:`WARNING_CHARS`."""
    gist = warning.split(": ", 1)[0]
    return gist if len(gist) <= WARNING_CHARS else gist[: WARNING_CHARS - 1] + "…"


class RunProgress:
    """A bar over a run's ``seconds`` that also counts its messages (``12/100 messages`` when
    ``max_messages`` is set); when ``seconds`` is infinite the bar counts messages instead (up to
    ``max_messages``, or without end).

    Does nothing when ``enabled`` is false or output is not :func:`interactive`.
    """

    def __init__(self, label: str, seconds: float, max_messages: int | None, *, enabled: bool = True) -> None:
        self.by_messages = math.isinf(seconds)
        self.max_messages = max_messages
        self._bar: Any = None
        if not (enabled and interactive()):
            return
        from tqdm.auto import (
            tqdm,  # imported on demand: it pulls in ipywidgets in a kernel
        )

        total: float | None
        if self.by_messages:
            total, counter = max_messages, "{n:.0f}/{total:.0f} messages" if max_messages else "{n:.0f} messages"
        else:
            total, counter = seconds, "{n:.1f}/{total:g} s"
        meter = "{percentage:3.0f}%|{bar}| " if total else ""  # without an end, a count alone
        kernel = in_kernel()
        options: dict[str, Any] = {"display": False} if kernel else {}
        self._bar = tqdm(total=total, desc=label, bar_format="{desc}: " + meter + counter + "{postfix}", **options)
        self._display_id: str | None = None
        if kernel and hasattr(self._bar, "container"):  # the notebook's widget: shown here, so it can be replaced at the end
            import uuid

            from IPython.display import display

            self._display_id = uuid.uuid4().hex
            display(self._bar.container, display_id=self._display_id)

    @property
    def shown(self) -> bool:
        """Whether a bar is displayed."""
        return self._bar is not None

    def update(self, elapsed: float, messages: int, warning: str | None = None, more: str = "") -> None:
        """Show ``elapsed`` seconds and ``messages`` received so far, ``more`` (e.g. rows and
        files written) and the gist of the newest ``warning`` (a refused or silent subscription:
        what happened, before its advice, which the log line has) when there is one, so the bar
        stays one line."""
        bar = self._bar
        if bar is None:
            return
        notice = (f" · {more}" if more else "") + (f" · ⚠ {_gist(warning)}" if warning else "")
        if self.by_messages:
            bar.n = messages if bar.total is None else min(messages, bar.total)
            bar.set_postfix_str(f"{messages / elapsed if elapsed > 0 else 0:,.1f}/s{notice}", refresh=False)
        else:
            bar.n = min(elapsed, bar.total)
            limit = f"/{self.max_messages}" if self.max_messages is not None else ""
            bar.set_postfix_str(f"{messages}{limit} messages{notice}", refresh=False)
        bar.refresh()

    def close(self, completed: bool) -> None:
        """End the bar: full when the run ended as planned (time up or ``max_messages``
        reached), left where it stopped otherwise (interrupted or failed; red in a notebook)."""
        bar = self._bar
        if bar is None:
            return
        if completed and bar.total is not None:
            bar.n = bar.total
            bar.refresh()
        bar.close()
        self._bar = None
        if self._display_id is not None:  # widgets do not outlive the kernel: a saved notebook keeps this line
            import html

            from IPython.display import update_display

            colour = "inherit" if completed else "#e76f51"  # as the widget: red when interrupted or failed
            line = str(bar)
            page = f"<pre style='margin:0;color:{colour}'>{html.escape(line)}</pre>"
            update_display({"text/plain": line, "text/html": page}, raw=True, display_id=self._display_id)
