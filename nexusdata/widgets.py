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
output, when its feed stops (or a new chart of its handle replaces it), with a picture of its last
state (a PNG, an HTML table), which a saved notebook keeps: through the display id the kernel
showed it with, and through a :class:`Keeper` inside it, which reaches the notebook after a page
reload too (:class:`Kept`).
"""

from __future__ import annotations

import asyncio
import base64
import html
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import anywidget
import ipywidgets
import traitlets

from .animation import DEVICE_PIXEL_RATIO, Animation, drawing
from .charts import chart_of
from .checks import positive_int, positive_number
from .feed import OTHER_STATE_COLOUR, STATE_COLOURS, Feed
from .kinds import Kind, Subscription
from .pacing import Pacing
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

STATUS_EVERY = 1.0
"""Seconds between updates of a displayed live handle's status."""


def status_html(feed: Feed, line: str) -> str:
    """A status ``line`` of ``feed`` with a dot in its state's colour."""
    colour = STATE_COLOURS.get(feed.state, OTHER_STATE_COLOUR)
    return f"<span style='color:{colour}'>●</span> {html.escape(line)}"


@dataclass(frozen=True)
class Pick:
    """The one symbol or id a live chart draws of a feed that may carry several: the rows whose
    ``kind.column`` holds ``value`` (``kind`` is the registry's entry of the feed's pushes)."""

    kind: Kind
    value: str
    label: str
    """The subscription in a few words (``BTCUSDT depth``, ``pair_index_v3 1``)."""

    @classmethod
    def of(cls, kind: Kind, subscription: Subscription) -> Pick:
        value = kind.value_of(subscription)
        assert value is not None, "charted kinds have a key"  # the orders have none, and no chart
        return cls(kind, value, kind.label(subscription))

    @property
    def where(self) -> tuple[str, str]:
        """The rows it draws, as :meth:`~nexusdata.frames.TableBuffer.tail` takes them."""
        return self.kind.column, self.value

    def subscribed(self, feed: Feed) -> bool:
        """Whether ``feed`` is subscribed to it now."""
        return any(self.kind.value_of(s) == self.value for s in feed.connection.subscriptions)


Picture = tuple[dict[str, Any], dict[str, Any]]
"""What replaces a displayed widget: a mime bundle's data and metadata, as ``display(raw=True)``
takes them."""

KEEPER_JS = """
const VIEW = "application/vnd.jupyter.widget-view+json";

// Every output of the notebook showing the widget `root` becomes `picture`, in the notebook
// itself: a saved notebook then holds the picture, not a widget its next kernel will not have.
function keep(model) {
  const picture = model.get("picture");
  const context = model.widget_manager && model.widget_manager.context;
  const notebook = context && context.model;  // JupyterLab and Notebook 7; elsewhere nothing to do
  if (!picture || !picture.data || !notebook || !notebook.cells) return;
  const root = model.get("root");
  for (let c = 0; c < notebook.cells.length; c++) {
    const outputs = notebook.cells.get(c).outputs;
    for (let i = 0; outputs && i < outputs.length; i++) {
      const view = outputs.get(i).data[VIEW];
      if (view && view.model_id === root) {
        outputs.set(i, {output_type: "display_data", data: picture.data, metadata: picture.metadata || {}});
      }
    }
  }
}

export default {
  render({ model }) {
    // not while this view is being rendered: the replacement disposes of it
    const later = () => setTimeout(() => keep(model), 0);
    model.on("change:picture", later);
    later();
    return () => model.off("change:picture", later);
  },
};
"""


class Keeper(anywidget.AnyWidget):
    """The part of a displayed live widget that replaces its outputs with its picture where the
    kernel's display id cannot: every view of it (the page that ran the cell, or the same
    notebook reopened or reloaded while the kernel runs) writes ``picture`` (``{"data": ...,
    "metadata": ...}``) over each output of the notebook that shows the widget ``root`` (a model
    id), once it is set. Invisible; in frontends other than JupyterLab and Notebook 7 it does
    nothing."""

    _esm = KEEPER_JS
    root = traitlets.Unicode("").tag(sync=True)
    picture = traitlets.Dict().tag(sync=True)


class Kept:
    """A live ``widget`` as displayed in Jupyter, replaced by a picture of its last state once its
    feed stops (reopened without its kernel, a widget output reads "model not found").

    :meth:`show` displays the widget in a box beside a :class:`Keeper`, each time with one
    display id. :meth:`keep` then replaces every such output twice over: by the display id (any
    frontend, while the page that ran the cells is open: after a reload, JupyterLab routes an
    update to no output) and by the keeper (JupyterLab and Notebook 7, whatever page shows the
    notebook now). Once kept, :meth:`show` displays the picture itself."""

    def __init__(self, widget: ipywidgets.Widget) -> None:
        self.widget = widget
        self.display_id: str | None = None
        self.box: ipywidgets.Box | None = None
        """What is displayed: the widget and the keeper (made when first shown)."""
        self.keeper: Keeper | None = None
        self._picture: Picture | None = None

    def show(self) -> None:
        from IPython.display import display

        if self._picture is not None:
            data, metadata = self._picture
            display(data, metadata=metadata, raw=True)
            return
        if self.box is None:
            self.box = ipywidgets.VBox()
            self.keeper = Keeper(root=self.box.model_id, layout=ipywidgets.Layout(display="none"))
            self.box.children = (self.widget, self.keeper)
            self.display_id = uuid.uuid4().hex
        display(self.box._repr_mimebundle_(), raw=True, display_id=self.display_id)

    def keep(self, picture: Callable[[], Picture]) -> None:
        """Replace every output of the widget with ``picture()`` (made only if it was displayed)."""
        if self.box is None or self.keeper is None or self._picture is not None:
            return  # never displayed (nothing to keep), or kept already
        from IPython.display import update_display

        data, metadata = self._picture = picture()
        update_display(data, metadata=metadata, raw=True, display_id=self.display_id)
        self.keeper.picture = {"data": data, "metadata": metadata}

    def close(self) -> None:
        for part in (self.keeper, self.box):
            if part is not None:
                part.close()


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
    (the status line, and what the newest push shows) above the chart's image. With ``pick`` it
    draws that one symbol or id of the feed's, whatever else the feed carries, and its header
    says when the feed is no longer subscribed to it.

    In a Jupyter kernel it redraws itself from the kernel's event loop until the feed stops (or
    :meth:`finish` is called); elsewhere call :meth:`refresh`. It shows the newest ``history``
    pushes, redraws at most ``max_fps`` times a second and spends at most ``draw_share`` of the
    time drawing while ingestion is busy (about what ingestion then loses), up to
    :data:`~nexusdata.pacing.CALM_SHARE` while it is calm (``pacing`` decides; ``share`` is the
    share in force). The image is drawn for ``device_pixel_ratio`` device pixels per CSS pixel
    and shown at the chart's size in CSS pixels. ``redraws`` counts the
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
        pick: Pick | None = None,
        history: int = HISTORY,
        max_fps: float = MAX_FPS,
        draw_share: float = DRAW_SHARE,
        device_pixel_ratio: float = DEVICE_PIXEL_RATIO,
        title: str | None = None,
    ) -> None:
        self._kept = Kept(self)  # first: close() needs it, also when an option below is refused
        self.history = positive_int(history, "history")  # checked before any widget exists
        self.max_fps = positive_number(max_fps, "max_fps", unit="redraws a second")
        self.draw_share = positive_number(draw_share, "draw_share", unit="", maximum=1.0)
        ratio = positive_number(device_pixel_ratio, "device_pixel_ratio", unit="device pixels per CSS pixel", maximum=4.0)
        self.feed = feed
        self.kind = kind
        self.pick = pick
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
        self._finished = False
        self._seen = -1  # pushes the buffer had taken at the last redraw
        self._drawn: tuple[int, object] = (-1, None)  # rows and newest time of the last frame: the pick's may not have moved
        self.pacing = Pacing(time.monotonic(), feed.connection.waiting_seconds, max_fps=self.max_fps, draw_share=self.draw_share)
        self.refresh(force=True)
        self._task = start_task(self._redraw_until_stopped)

    @classmethod
    def of(cls, feed: Feed, kind: str, pick: Pick, chart: str | None = None, **options: Any) -> LivePlot:
        """A live chart of ``pick`` among ``feed``'s pushes of ``kind``: the one named ``chart``
        (:data:`~nexusdata.charts.CHARTS`), else the default of the pick's kind."""
        return cls(feed, kind, drawing(chart_of(pick.kind.name, chart)), pick=pick, **options)

    @property
    def share(self) -> float:
        """The share of the time drawing may take until the next redraw, by how busy ingestion was
        (:class:`~nexusdata.pacing.Pacing`)."""
        return self.pacing.share

    @property
    def status(self) -> str:
        """The header as shown: the status line and the caption, as HTML."""
        return self.header.value

    def refresh(self, force: bool = False) -> bool:
        """Draw a frame of the newest ``history`` pushes if pushes arrived since the last one and
        the throttle allows it (``force`` ignores the throttle); the header follows the status
        either way. Call it on the main thread only. Returns whether it drew a frame."""
        started, cpu = time.monotonic(), time.thread_time()
        if not self.pacing.allows(started) and not force:
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
        busy = not self.pacing.calm and self.redraws and not self.feed.finished.is_set()
        rows = buffer.tail(self.history, pending=not busy, columns=self.animation.scene.columns, where=self._where)
        drawn = (len(rows), rows["received_at"].iat[-1] if len(rows) else None)
        new = drawn != self._drawn  # else the pushes were of other symbols, or not typed yet: the same frame
        if new:
            self._drawn = drawn
            self.animation.draw(rows, self.title, started)
            self.image.value = self.animation.jpeg()
            self.redraws += 1
        self.header.value = self._header()
        cost = time.thread_time() - cpu
        self.pacing.spent(started, cost, self.feed.connection.waiting_seconds, laid_out=self.animation.layouts > layouts)
        return new

    def finish(self) -> None:
        """Stop redrawing, draw what arrived last and, where the chart is displayed, replace it
        with a PNG of that last state (titles, status and all), which a saved notebook keeps.
        Called when the feed stops, and when its handle makes a new chart."""
        if self._finished:
            return
        self._finished = True
        self.refresh(force=True)
        self._kept.keep(self._kept_picture)

    def picture(self) -> bytes:
        """A PNG of the chart's state now, to keep (``open("now.png", "wb").write(chart.picture())``):
        the static chart of the pushes shown (clock times, the newest values in the titles) with
        the status line, at the chart's resolution. The live frames' figure draws its changing
        parts over a saved background, so it cannot be saved with ``savefig`` as a whole."""
        colour = STATE_COLOURS.get(self.feed.state, OTHER_STATE_COLOUR)
        rows = self.feed.buffers[self.kind].tail(self.history, where=self._where)
        return self.animation.picture(rows, self.title, self._status_line(), colour)

    def _kept_picture(self) -> Picture:
        width, height = self.animation.chart.size
        data = {"image/png": base64.b64encode(self.picture()).decode("ascii"), "text/plain": f"live chart: {self._status_line()}"}
        return data, {"image/png": {"width": width, "height": height}}

    def _ipython_display_(self) -> None:
        self._kept.show()

    @property
    def _where(self) -> tuple[str, str] | None:
        return self.pick.where if self.pick is not None else None

    def _status_line(self) -> str:
        """The feed's status line, and whether the chart's symbol or id is still subscribed."""
        line = self.feed.status_line(self.kind, rows=False)
        if self.pick is not None and not self.pick.subscribed(self.feed):
            line += f" · {self.pick.label} unsubscribed"
        return line

    def _header(self) -> str:
        caption = html.escape(self.animation.caption)
        return f"{status_html(self.feed, self._status_line())}<br><span style='font-weight:600'>{caption}</span>"

    def close(self) -> None:
        """Stop redrawing and close the widgets."""
        if self._task is not None:
            self._task.cancel()
        self._kept.close()
        for part in self.children:
            part.close()
        super().close()

    async def _redraw_until_stopped(self) -> None:
        try:
            while not self.feed.finished.is_set() and not self._finished:
                await asyncio.sleep(1 / self.max_fps)
                self.refresh()
            self.finish()
        except Exception:  # a failing redraw must not vanish as an unretrieved task exception
            log.exception("live chart stopped redrawing")


class LiveStatus(ipywidgets.HTML):
    """A live handle's status as shown in Jupyter: ``render()``'s HTML, updated every
    :data:`STATUS_EVERY` seconds from the kernel's event loop while ``feed`` runs, then replaced
    by plain HTML output (which a saved notebook keeps; ``text()`` is its plain-text form)."""

    _task: asyncio.Task[None] | None = None

    def __init__(self, feed: Feed, render: Callable[[], str], text: Callable[[], str]) -> None:
        super().__init__(render())
        self.feed = feed
        self.render = render
        self.text = text
        self._kept = Kept(self)
        self._task = start_task(self._update_until_stopped)

    def _ipython_display_(self) -> None:
        self._kept.show()

    async def _update_until_stopped(self) -> None:
        try:
            while not self.feed.finished.is_set():
                await asyncio.sleep(STATUS_EVERY)
                self.value = self.render()
            self.value = self.render()
            self._kept.keep(lambda: ({"text/html": self.value, "text/plain": self.text()}, {}))
        except Exception:  # as for the charts: never an unretrieved task exception
            log.exception("live status stopped updating")
