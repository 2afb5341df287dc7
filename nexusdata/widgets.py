"""Live charts in Jupyter: an ipywidgets box whose PNG image is redrawn from a running feed.

The connection thread only writes data into the feed's buffers; :meth:`LivePlot.refresh` reads
the newest pushes the buffer holds (typed once, by the buffer) and redraws the chart
(:mod:`nexusdata.plots`, on a pyplot-free figure). It runs where matplotlib and widget output
are safe: from a task on the Jupyter kernel's own asyncio loop (live handles), or from a
blocking collector's wait loop (``plot=True``), both on the main thread. Redraws happen only
when data arrived, at most ``max_fps`` times a second and with at most about a twentieth of the
time spent drawing while ingestion is busy (a quarter while it is calm).
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from typing import Any

import ipywidgets

from .config import positive_int, positive_number
from .feed import OTHER_STATE_COLOUR, STATE_COLOURS, Feed
from .frames import latest_push
from .plots import CHARTS, Chart, png

log = logging.getLogger("nexusdata.widgets")

HISTORY = 2000
"""Pushes the chart's time series shows by default, the newest ones."""

MAX_FPS = 5.0
"""Redraws per second at most, by default."""

DRAW_SHARE = 0.05
"""At most this share of the time goes to redrawing by default, counted in the main thread's CPU
time (what drawing takes from ingestion: the GIL it holds and a core; waiting for the GIL costs
nothing): slow machines redraw less often, and a feed at full speed keeps its throughput
(``python -m benchmarks`` measures it)."""

CALM_SHARE = 0.25
"""The share of the time drawing may take while ingestion is calm (the connection thread spent
more than :data:`CALM_WAITING` of the time since the last redraw waiting for data): the feed
then has room, and the chart moves more often."""

CALM_WAITING = 0.5
"""Share of the time the connection thread waits for data above which ingestion counts as calm."""

RELAYOUT_EVERY = 10
"""The figure's layout is recomputed on the first redraw and every this many (it costs as much
as the drawing; in between, axes keep their places)."""


class LivePlot(ipywidgets.VBox):
    """A live chart of one kind of push of a running :class:`~nexusdata.feed.Feed`: a status
    line above the chart's image.

    In a Jupyter kernel it redraws itself from the kernel's event loop until the feed stops;
    elsewhere call :meth:`refresh`. It shows the newest ``history`` pushes, redraws at most
    ``max_fps`` times a second and spends at most ``draw_share`` of the time drawing while
    ingestion is busy (about what ingestion then loses), up to :data:`CALM_SHARE` while it is
    calm; ``share`` is the share in force. ``redraws`` counts the redraws so far; ``figure`` is
    the matplotlib figure drawn (``figure.savefig(...)`` keeps a picture of it).
    """

    _task: asyncio.Task[None] | None = None  # also for a chart refused by its options (closed when collected)

    def __init__(
        self,
        feed: Feed,
        kind: str,
        chart: Chart,
        *,
        history: int = HISTORY,
        max_fps: float = MAX_FPS,
        draw_share: float = DRAW_SHARE,
        dpi: float = 80,
        title: str | None = None,
    ) -> None:
        self.history = positive_int(history, "history")  # checked before any widget exists
        self.max_fps = positive_number(max_fps, "max_fps", unit="redraws a second")
        self.draw_share = positive_number(draw_share, "draw_share", unit="", maximum=1.0)
        dpi = positive_number(dpi, "dpi", unit="dots per inch")
        self.feed = feed
        self.kind = kind
        self.chart = chart
        self.title = title
        self.redraws = 0
        self.status = ipywidgets.HTML()
        self.image = ipywidgets.Image(format="png")
        super().__init__([self.status, self.image])
        self.figure = chart.figure(dpi)
        self._seen = -1  # pushes the buffer had taken at the last redraw
        self._next_at = 0.0
        self._ingestion = (time.monotonic(), feed.connection.waiting_seconds)  # when, and the connection's waiting then
        self.share = self.draw_share
        """The share of the time drawing may take until the next redraw, by how busy ingestion was."""
        self.refresh(force=True)
        self._start()

    @classmethod
    def of(cls, feed: Feed, kind: str, chart: str, **options: Any) -> LivePlot:
        """A live chart of ``feed``'s pushes of ``kind``, drawn by the chart named ``chart`` (a
        subscription kind's name: ``depth``, ``pair_index_v3``)."""
        return cls(feed, kind, CHARTS[chart], **options)

    def refresh(self, force: bool = False) -> bool:
        """Redraw the newest ``history`` pushes if pushes arrived since the last redraw and the
        throttle allows it (``force`` ignores the throttle). Call it on the main thread only.
        Returns whether it redrew."""
        started, cpu = time.monotonic(), time.thread_time()
        if not force and started < self._next_at:
            return False
        self.status.value = self._status()
        buffer = self.feed.buffers[self.kind]
        if buffer.pushes == self._seen and self.redraws:
            return False
        self._seen = buffer.pushes
        rows = buffer.tail(self.history)
        relayout = self.redraws % RELAYOUT_EVERY == 0
        self.figure.set_layout_engine("constrained" if relayout else "none")
        self.chart.draw(self.figure.axes, latest_push(rows), self.chart.series(rows), self.title)
        self.image.value = png(self.figure)
        self.redraws += 1
        cost = 0.0 if relayout else time.thread_time() - cpu  # a rare layout is not the usual cost
        self._measure_ingestion(started)
        self._next_at = started + max(1 / self.max_fps, cost / self.share)
        return True

    def _measure_ingestion(self, now: float) -> None:
        """Set :attr:`share`: more than ``draw_share`` if the connection thread has mostly been
        waiting for data since the last redraw (a calm feed), else ``draw_share``."""
        then, waited = self._ingestion
        self._ingestion = (now, self.feed.connection.waiting_seconds)
        calm = now > then and (self._ingestion[1] - waited) / (now - then) > CALM_WAITING
        self.share = max(self.draw_share, CALM_SHARE) if calm else self.draw_share

    def close(self) -> None:
        """Stop redrawing and close the widgets."""
        if self._task is not None:
            self._task.cancel()
        for part in self.children:
            part.close()
        super().close()

    def _status(self) -> str:
        colour = STATE_COLOURS.get(self.feed.state, OTHER_STATE_COLOUR)
        return f"<span style='color:{colour}'>●</span> {html.escape(self.feed.status_line(self.kind, rows=False))}"

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
