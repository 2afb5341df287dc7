"""Live charts and live status in Jupyter: ipywidgets redrawn from a running feed.

The connection thread only writes data into the feed's buffers; :meth:`LivePlot.refresh` reads
the newest pushes the buffer holds (typed once, by the buffer) and draws a frame of the chart by
blitting (:mod:`nexusdata.animation`). It runs where matplotlib and widget output are safe: from
a task on the Jupyter kernel's own asyncio loop (live handles), or from a blocking collector's
wait loop (``plot=True``), both on the main thread. Frames are drawn only when data arrived, at
most ``max_fps`` times a second and with at most about a twentieth of the time spent drawing
while ingestion is busy (about a third while it is calm).

Widgets live only as long as the kernel: a saved notebook holds no widget state, and a widget
output reopened without it shows an error. So a chart or status displayed here replaces its
output, when its feed stops, with a picture of its last state (a PNG, an HTML table), which a
saved notebook keeps.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import ipywidgets

from .animation import DEVICE_PIXEL_RATIO, Animation, chart_of
from .config import positive_int, positive_number
from .feed import OTHER_STATE_COLOUR, STATE_COLOURS, Feed
from .plots import Chart

log = logging.getLogger("nexusdata.widgets")

HISTORY = 2000
"""Pushes the chart's time series shows by default, the newest ones."""

MAX_FPS = 20.0
"""Redraws per second at most, by default."""

DRAW_SHARE = 0.05
"""At most this share of the time goes to redrawing by default, counted in the main thread's CPU
time (what drawing takes from ingestion: the GIL it holds and a core; waiting for the GIL costs
nothing): slow machines redraw less often, and a feed at full speed keeps its throughput
(``python -m benchmarks`` measures it)."""

CALM_SHARE = 0.35
"""The share of the time drawing may take while ingestion is calm (the connection thread spent
more than :data:`CALM_WAITING` of the time since the last redraw waiting for data): the feed
then has room, and the chart moves more often."""

CALM_WAITING = 0.5
"""Share of the time the connection thread waits for data above which ingestion counts as calm."""

CREDIT = 0.04
"""CPU seconds of drawing a chart may save up while it has nothing to draw (two frames' worth or
so: more would be spent in one burst when data comes back): a redraw is allowed
while its credit, earned at the drawing share in force, is not negative, and costs its CPU time.
In the long run drawing takes no more than the share; a rare full draw is paid for by the
redraws after it, not by a running mean that slows every later one."""

DEBT = 0.1
"""The most CPU seconds a chart's credit may owe: after a full draw (0.2-0.4 s) a busy feed's chart
waits at most 2 s at a twentieth, not the 4-8 s the draw cost; full draws are rare (limits
change with hysteresis), so the share holds over a longer run."""

FIRST_LAYOUTS = 2
"""Layouts at the start (the empty chart, the first push) that are not charged to the credit."""

STATUS_EVERY = 1.0
"""Seconds between updates of a displayed live handle's status."""


def status_html(feed: Feed, kind: str) -> str:
    """The status line of ``feed``'s ``kind`` with a dot in its state's colour."""
    colour = STATE_COLOURS.get(feed.state, OTHER_STATE_COLOUR)
    return f"<span style='color:{colour}'>●</span> {html.escape(feed.status_line(kind, rows=False))}"


class Kept:
    """A displayed output that is replaced, when its feed stops, by a picture of its last state
    (the widget itself would not survive a saved notebook). ``show`` displays ``widget`` with a
    display id; ``keep`` replaces every output of it with ``picture()``'s display object."""

    def __init__(self) -> None:
        self.display_id: str | None = None

    def show(self, widget: ipywidgets.Widget) -> None:
        from IPython.display import display

        self.display_id = self.display_id or uuid.uuid4().hex
        display(widget._repr_mimebundle_(), raw=True, display_id=self.display_id)

    def keep(self, picture: Callable[[], Any]) -> None:
        if self.display_id is None:
            return  # never displayed: nothing to keep
        from IPython.display import update_display

        update_display(picture(), display_id=self.display_id)


def start_task(coroutine: Callable[[], Coroutine[Any, Any, None]]) -> asyncio.Task[None] | None:
    """Run ``coroutine()`` on this thread's running event loop (the Jupyter kernel's), if any."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        log.debug("no running event loop: nothing redraws by itself")
        return None
    return loop.create_task(coroutine())


class LivePlot(ipywidgets.VBox):
    """A live chart of one kind of push of a running :class:`~nexusdata.feed.Feed`: a header
    (the status line, and what the newest push shows) above the chart's image.

    In a Jupyter kernel it redraws itself from the kernel's event loop until the feed stops;
    elsewhere call :meth:`refresh`. It shows the newest ``history`` pushes, redraws at most
    ``max_fps`` times a second and spends at most ``draw_share`` of the time drawing while
    ingestion is busy (about what ingestion then loses), up to :data:`CALM_SHARE` while it is
    calm; ``share`` is the share in force. The image is drawn for ``device_pixel_ratio`` device
    pixels per CSS pixel and shown at the chart's size in CSS pixels. ``redraws`` counts the
    redraws, ``animation.full_draws`` those that redrew the whole figure; ``figure`` is the
    matplotlib figure drawn and :meth:`picture` a PNG of the chart's state to keep.
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
        device_pixel_ratio: float = DEVICE_PIXEL_RATIO,
        title: str | None = None,
    ) -> None:
        self.history = positive_int(history, "history")  # checked before any widget exists
        self.max_fps = positive_number(max_fps, "max_fps", unit="redraws a second")
        self.draw_share = positive_number(draw_share, "draw_share", unit="", maximum=1.0)
        ratio = positive_number(device_pixel_ratio, "device_pixel_ratio", unit="device pixels per CSS pixel", maximum=4.0)
        self.feed = feed
        self.kind = kind
        self.title = title
        self.redraws = 0
        self.animation = Animation(chart, device_pixel_ratio=ratio)
        self.figure = self.animation.figure
        width, _ = chart.size
        self.header = ipywidgets.HTML()
        self.image = ipywidgets.Image(format="jpeg", layout=ipywidgets.Layout(width="100%", height="auto"))
        # the chart's size in CSS pixels, or the page's width where that is less; a box scrolls what
        # overflows it, and the image's margins would (a scroll bar under every chart)
        box = ipywidgets.Layout(width=f"{width}px", max_width="100%", overflow="hidden")
        super().__init__([self.header, self.image], layout=box)
        self._kept = Kept()
        self._finished = False
        self._seen = -1  # pushes the buffer had taken at the last redraw
        self._next_at = 0.0
        self._credit = 0.0  # CPU seconds drawing may take now: earned at `share` a second, spent by redraws
        self._credited_at = time.monotonic()
        self._drawing = 0.0  # CPU seconds the last redraw took
        self._calm = True  # whether the connection thread mostly waited for data since the last redraw
        self._ingestion = (time.monotonic(), feed.connection.waiting_seconds)  # when, and the connection's waiting then
        self.share = self.draw_share
        """The share of the time drawing may take until the next redraw, by how busy ingestion was."""
        self.refresh(force=True)
        self._task = start_task(self._redraw_until_stopped)

    @classmethod
    def of(cls, feed: Feed, kind: str, table: str, chart: str | None = None, **options: Any) -> LivePlot:
        """A live chart of ``feed``'s pushes of ``kind`` (rows of ``table``): the one named
        ``chart`` (:data:`~nexusdata.animation.CHARTS`), else the table's default."""
        return cls(feed, kind, chart_of(table, chart), **options)

    @property
    def status(self) -> str:
        """The header as shown: the status line and the caption, as HTML."""
        return self.header.value

    def refresh(self, force: bool = False) -> bool:
        """Draw a frame of the newest ``history`` pushes if pushes arrived since the last one and
        the throttle allows it (``force`` ignores the throttle); the header follows the status
        either way. Call it on the main thread only. Returns whether it drew a frame."""
        started, cpu = time.monotonic(), time.thread_time()
        self._credit = min(CREDIT, self._credit + (started - self._credited_at) * self.share)
        self._credited_at = started
        if not force and (started < self._next_at or self._credit < 0):
            return False
        buffer = self.feed.buffers[self.kind]
        if buffer.pushes == self._seen and self.redraws:
            self.header.value = self._header()
            return False
        self._seen = buffer.pushes
        layouts = self.animation.layouts
        # a busy feed types its own pushes, a chunk at a time, soon: the chart need not (under
        # the lock ingestion waits for); a calm one may take long to fill a chunk, and a stopped
        # one never will
        busy = not self._calm and self.redraws and not self.feed.finished.is_set()
        rows = buffer.tail(self.history, pending=not busy, columns=self.animation.scene.columns)
        self.animation.draw(rows, self.title, started)
        self.image.value = self.animation.jpeg()
        self.header.value = self._header()
        self.redraws += 1
        cost = time.thread_time() - cpu
        if not (self.animation.layouts > layouts and self.animation.layouts <= FIRST_LAYOUTS):
            # the layouts of the empty chart and of the first push are not charged, and a debt stops
            # at DEBT: a rare full draw must not freeze a busy feed's chart for seconds
            self._credit = max(self._credit - cost, -DEBT)
        self._measure_ingestion(started)
        self._drawing = cost
        self._next_at = started + 1 / self.max_fps
        return True

    def finish(self) -> None:
        """Draw what arrived last and, where the chart is displayed, replace it with a PNG of
        that last state (titles, status and all), which a saved notebook keeps."""
        from IPython.display import Image

        self.refresh(force=True)
        if self._finished:
            return
        self._finished = True
        width, height = self.animation.chart.size
        self._kept.keep(lambda: Image(self.picture(), width=width, height=height))

    def picture(self) -> bytes:
        """A PNG of the chart's state now, to keep (``open("now.png", "wb").write(chart.picture())``):
        the static chart of the pushes shown (clock times, the newest values in the titles) with
        the status line, at the chart's resolution. The live frames' figure draws its changing
        parts over a saved background, so it cannot be saved with ``savefig`` as a whole."""
        colour = STATE_COLOURS.get(self.feed.state, OTHER_STATE_COLOUR)
        rows = self.feed.buffers[self.kind].tail(self.history)
        return self.animation.picture(rows, self.title, self.feed.status_line(self.kind, rows=False), colour)

    def _ipython_display_(self) -> None:
        self._kept.show(self)

    def _header(self) -> str:
        caption = html.escape(self.animation.caption)
        return f"{status_html(self.feed, self.kind)}<br><span style='font-weight:600'>{caption}</span>"

    def _measure_ingestion(self, now: float) -> None:
        """Set :attr:`share`: more than ``draw_share`` if the connection thread has mostly been
        waiting for data since the last redraw (a calm feed), else ``draw_share``. The time that
        redraw took is left out: while the chart holds the GIL the thread cannot wait for data,
        even on a calm feed."""
        then, waited = self._ingestion
        self._ingestion = (now, self.feed.connection.waiting_seconds)
        span = now - then - self._drawing
        self._calm = span > 0 and (self._ingestion[1] - waited) / span > CALM_WAITING
        self.share = max(self.draw_share, CALM_SHARE) if self._calm else self.draw_share

    def close(self) -> None:
        """Stop redrawing and close the widgets."""
        if self._task is not None:
            self._task.cancel()
        for part in self.children:
            part.close()
        super().close()

    async def _redraw_until_stopped(self) -> None:
        try:
            while not self.feed.finished.is_set():
                await asyncio.sleep(1 / self.max_fps)
                self.refresh()
            self.finish()
        except Exception:  # a failing redraw must not vanish as an unretrieved task exception
            log.exception("live chart stopped redrawing")


class LiveStatus(ipywidgets.HTML):
    """A live handle's status as shown in Jupyter: ``render()``'s HTML, updated every
    :data:`STATUS_EVERY` seconds from the kernel's event loop while ``feed`` runs, then left as
    plain HTML output (which a saved notebook keeps)."""

    _task: asyncio.Task[None] | None = None

    def __init__(self, feed: Feed, render: Callable[[], str]) -> None:
        super().__init__(render())
        self.feed = feed
        self.render = render
        self._kept = Kept()
        self._task = start_task(self._update_until_stopped)

    def _ipython_display_(self) -> None:
        self._kept.show(self)

    async def _update_until_stopped(self) -> None:
        from IPython.display import HTML

        try:
            while not self.feed.finished.is_set():
                await asyncio.sleep(STATUS_EVERY)
                self.value = self.render()
            self.value = self.render()
            self._kept.keep(lambda: HTML(self.value))
        except Exception:  # as for the charts: never an unretrieved task exception
            log.exception("live status stopped updating")
