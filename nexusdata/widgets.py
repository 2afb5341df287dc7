"""Live charts in Jupyter: an ipywidgets box whose PNG image is redrawn from a running feed.

The connection thread only writes data (its buffers and :attr:`~nexusdata.feed.Feed.recent`
reads); :meth:`LivePlot.refresh` types the pushes that arrived since the last redraw and redraws
the chart (:mod:`nexusdata.plots`, on a pyplot-free figure). It runs where matplotlib and widget
output are safe: from a task on the Jupyter kernel's own asyncio loop (live handles), or from a
blocking collector's wait loop (``plot=True``), both on the main thread. Redraws happen only
when data arrived, at most ``max_fps`` times a second and taking at most about a twentieth of the
main thread's time.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time

import ipywidgets
import pandas as pd

from .feed import Feed, Read
from .live import feed_stats, reads_frame, status_line
from .plots import Chart, latest_push, png

log = logging.getLogger("nexusdata.widgets")

HISTORY = 2000
"""Pushes the chart's time series shows by default, the newest ones."""

MAX_FPS = 5.0
"""Redraws per second at most, by default."""

DRAW_SHARE = 0.05
"""At most this share of the main thread's time goes to redrawing: slow machines redraw less
often, and a feed at full speed keeps its throughput (the connection thread needs the GIL that
drawing holds; benchmark in tests/test_widgets.py)."""

RELAYOUT_EVERY = 10
"""The figure's layout is recomputed on the first redraw and every this many (it costs as much
as the drawing; in between, axes keep their places)."""


class LivePlot(ipywidgets.VBox):
    """A live chart of one kind of push of a running :class:`~nexusdata.feed.Feed`: a status
    line above the chart's image.

    In a Jupyter kernel it redraws itself from the kernel's event loop until the feed stops;
    elsewhere call :meth:`refresh`. ``redraws`` counts the redraws so far; ``figure`` is the
    matplotlib figure drawn (``figure.savefig(...)`` keeps a picture of it).
    """

    def __init__(
        self,
        feed: Feed,
        kind: str,
        chart: Chart,
        *,
        history: int = HISTORY,
        max_fps: float = MAX_FPS,
        dpi: float = 80,
        title: str | None = None,
    ) -> None:
        self.feed = feed
        self.kind = kind
        self.chart = chart
        self.history = history
        self.max_fps = max_fps
        self.title = title
        self.redraws = 0
        self.status = ipywidgets.HTML()
        self.image = ipywidgets.Image(format="png")
        super().__init__([self.status, self.image])
        self.figure = chart.figure(dpi)
        self._seen = feed.accepted  # what the feed holds now is drawn from its frame, later pushes from its reads
        held = feed.frame(kind)
        self._latest = latest_push(held)
        self._series = chart.series(held).iloc[-history:]
        self._next_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self.refresh(force=True)
        self._start()

    def refresh(self, force: bool = False) -> bool:
        """Redraw with the pushes that arrived since the last redraw, if any did and the
        throttle allows it (``force`` ignores the throttle). Call it on the main thread only.
        Returns whether it redrew."""
        started = time.monotonic()
        if not force and started < self._next_at:
            return False
        self.status.value = self._status()
        fresh = [read for read in list(self.feed.recent[self.kind]) if read.number > self._seen]
        if fresh:
            self._seen = fresh[-1].number
            self._absorb(reads_frame(self.feed.buffers[self.kind].table, newest(fresh, self.history)))
        elif self.redraws:
            return False
        relayout = self.redraws % RELAYOUT_EVERY == 0
        self.figure.set_layout_engine("constrained" if relayout else "none")
        self.chart.draw(self.figure.axes, self._latest, self._series, self.title)
        self.image.value = png(self.figure)
        self.redraws += 1
        cost = 0.0 if relayout else time.monotonic() - started  # a rare layout is not the usual cost
        self._next_at = started + max(1 / self.max_fps, cost / DRAW_SHARE)
        return True

    def close(self) -> None:
        """Stop redrawing and close the widgets."""
        if self._task is not None:
            self._task.cancel()
        self.status.close()
        self.image.close()
        super().close()

    def _absorb(self, rows: pd.DataFrame) -> None:
        """Take new typed rows in: the newest push becomes the latest, the series grows (each
        push once, keyed by its unique ``received_at``) and keeps its newest ``history``."""
        if rows.empty:
            return
        self._latest = latest_push(rows)
        series = self.chart.series(rows)
        if not self._series.empty:
            series = pd.concat([self._series, series])
            series = series[~series.index.duplicated(keep="last")]
        self._series = series.iloc[-self.history :]

    def _status(self) -> str:
        stats = feed_stats(self.feed, self.kind)
        colour = {"connected": "#2a9d8f", "failed": "#e76f51"}.get(stats["state"], "#6c757d")
        return f"<span style='color:{colour}'>●</span> {html.escape(status_line(stats))}"

    def _start(self) -> None:
        """Redraw from the running event loop of this thread (the Jupyter kernel's) if there is
        one."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.debug("no running event loop: call refresh() to redraw")
            return
        self._task = loop.create_task(self._redraw_until_stopped())

    async def _redraw_until_stopped(self) -> None:
        try:
            while not self.feed.finished.is_set():
                await asyncio.sleep(1 / self.max_fps)
                self.refresh()
            self.refresh(force=True)
        except Exception:  # a failing redraw must not vanish as an unretrieved task exception
            log.exception("live chart stopped redrawing")


def newest(reads: list[Read], pushes: int) -> list[Read]:
    """The newest whole ``reads`` holding at least ``pushes`` pushes (all when they hold fewer):
    a chart showing ``pushes`` points types no more, however fast data arrives."""
    kept: list[Read] = []
    count = 0
    for read in reversed(reads):
        if count >= pushes:
            break
        kept.append(read)
        count += len(read.frames)
    return kept[::-1]

