"""Charts of depth and ``pair_index_v3`` data: static pictures of a DataFrame, and the scenes the
live widgets redraw.

A chart's :class:`Scene` owns its artists on a figure made without pyplot and sets them from rows
in place. :meth:`Scene.update` returns the *layout key*: what the figure's static parts show
(axis limits, tick labels, the pairs listed). A live animation (:mod:`nexusdata.animation`) draws
the whole figure only when that key changes and otherwise restores a saved background and draws
the changing artists over it. Live axis limits follow the data with hysteresis (:class:`Range`,
:class:`Window`), so the key changes rarely. ``plot_depth(df)`` and ``plot_pair_weights(df)``
draw a saved DataFrame the same way (a PNG in Jupyter, or ``savefig``).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon, Rectangle
from matplotlib.text import Text

from .checks import floats, nanoseconds
from .feed import clock
from .frames import frame_with, schema
from .frames.book import SIDES, best_prices, mid_price, push_starts, side_codes
from .protocol import tables

PAIR_STATUS = {
    1: ("enabled", "#2a9d8f"),
    2: ("dropped (timeout or beyond threshold)", "#e76f51"),
    3: ("disabled (weight configured 0)", "#adb5bd"),
}
"""Pair-level ``status`` of ``pair_index_v3``: meaning and the colour the charts use."""

OTHER_STATUS = ("other", "#6c757d")
SIDE_COLOURS = {"bid": "#2a9d8f", "ask": "#e76f51"}
LINE_COLOUR = "#264653"
SPREAD_COLOUR = "#f4a261"
MUTED = "#6c757d"

WAITING = "waiting for the first push"
"""What a chart shows until its first push arrives."""

AGO = "seconds before the newest push"
"""The live charts' time axis: relative, so its ticks stay put while the data moves."""


def time_axis(ax: Axes) -> None:
    """Clock times (UTC) on the x axis, as precise as the span needs (sub-second ticks show
    fractions, not repeated seconds), slanted so they never overlap."""
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    formats = ["%Y", "%b", "%d", "%H:%M", "%H:%M:%S", "%H:%M:%S.%f"]
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, formats=formats, show_offset=False))
    ax.tick_params(axis="x", labelrotation=30)
    ax.set_xlabel("received at (UTC)")


@dataclass
class Range:
    """An axis range that follows the data with hysteresis: it expands at once (with ``margin``
    of the larger of the data's span and its own on each side) when data leaves it, and shrinks only once the data has
    fitted in less than ``shrink`` of it for ``patience`` seconds. A live chart's limits, and
    the full redraw a change costs, thus change rarely. ``zero`` keeps 0 as the lower limit of
    data that is never negative (volumes, weights)."""

    margin: float = 0.25
    zero: bool = False
    shrink: float = 0.4
    patience: float = 5.0
    limits: tuple[float, float] | None = None
    _tight_since: float | None = None

    def fit(self, low: float, high: float, now: float) -> tuple[float, float]:
        """The limits for data from ``low`` to ``high`` at ``now`` (seconds on any clock)."""
        if not (math.isfinite(low) and math.isfinite(high)):
            return self.limits or (0.0, 1.0)
        wanted = self._padded(low, high, 0.0)
        if self.limits is None:
            self.limits, self._tight_since = wanted, None
        elif low < self.limits[0] or high > self.limits[1]:
            # the side the data left grows, by a share of the larger of the data's span and the
            # limits' own (data that keeps drifting out meets limits growing geometrically); the
            # other side stays, and shrinks only with patience
            grown = self._padded(low, high, self.limits[1] - self.limits[0])
            self.limits, self._tight_since = (min(grown[0], self.limits[0]), max(grown[1], self.limits[1])), None
        elif wanted[1] - wanted[0] < self.shrink * (self.limits[1] - self.limits[0]):
            if self._tight_since is None:
                self._tight_since = now
            elif now - self._tight_since >= self.patience:
                self.limits, self._tight_since = wanted, None
        else:
            self._tight_since = None
        return self.limits

    def _padded(self, low: float, high: float, least: float) -> tuple[float, float]:
        span = max(high - low, least) or (abs(high) * 1e-3 or 1.0)
        return (0.0 if self.zero and low >= 0 else low - self.margin * span, high + self.margin * span)


@dataclass
class Window:
    """How many seconds a live chart's time axis shows before the newest push: the smallest
    1-2-5 step that holds the data, ``least`` seconds at least (the first pushes of a busy feed
    do not step it up at every push). It grows with the data from the first push, so the data
    fills from 40% of the axis up; it shrinks (to a step at most a quarter of the window: a span
    that wavers around a step does not flip it) only after ``patience`` seconds."""

    patience: float = 5.0
    least: float = 1.0
    seconds: float | None = None
    _tight_since: float | None = None

    def fit(self, span: float, now: float) -> float:
        """The window for data spanning ``span`` seconds, at ``now``."""
        wanted = max(nice_step(span), self.least)
        if self.seconds is None or span > self.seconds:
            self.seconds, self._tight_since = wanted, None
        elif wanted * 4 <= self.seconds:
            if self._tight_since is None:
                self._tight_since = now
            elif now - self._tight_since >= self.patience:
                self.seconds, self._tight_since = wanted, None
        else:
            self._tight_since = None
        return self.seconds


def nice_step(span: float) -> float:
    """The smallest of 1, 2 and 5 times a power of ten that is at least ``span`` (0.01 at least)."""
    span = max(span, 0.01)
    power = 10.0 ** math.floor(math.log10(span))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= span * (1 - 1e-9))


@dataclass(frozen=True)
class Books:
    """Depth rows read once as numpy arrays: per push its time and best bid and ask, and the
    newest push's cumulative depth per side."""

    times: np.ndarray  # int64 ns, one per push
    bid: np.ndarray
    ask: np.ndarray
    book: dict[str, tuple[np.ndarray, np.ndarray]]  # side -> (prices by level, cumulative volume)
    symbol: str | None

    @classmethod
    def of(cls, depth: pd.DataFrame) -> Books:
        received = nanoseconds(depth["received_at"], "depth's received_at")
        starts = push_starts(received)
        level = depth["level"].to_numpy()
        price = floats(depth["price"], "depth's price")
        top = np.flatnonzero(level == 0)
        bid, ask = best_prices(starts, top, side_codes(depth["side"], top), price)
        book: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        symbol = None
        if len(starts):
            newest = slice(int(starts[-1]), None)
            sides = side_codes(depth["side"], newest)
            volume = floats(depth["volume"], "depth's volume")[newest]
            for code, side in enumerate(SIDES):
                mask = sides == code
                order = np.argsort(level[newest][mask], kind="stable")
                book[side] = (price[newest][mask][order], np.cumsum(volume[mask][order]))
            symbol = str(depth["symbol"].iloc[-1])
        return cls(received[starts], bid, ask, book, symbol)

    @property
    def centre(self) -> float:
        """The newest push's mid, or its one best price if a side is empty (NaN if none)."""
        bid, ask = (float(v[-1]) if len(v) else math.nan for v in (self.bid, self.ask))
        return (bid + ask) / 2 if math.isfinite(bid) and math.isfinite(ask) else bid if math.isfinite(bid) else ask

    @property
    def mid(self) -> np.ndarray:
        return mid_price(self.bid, self.ask)

    @property
    def spread(self) -> np.ndarray:
        return self.ask - self.bid


def book_summary(depth: pd.DataFrame) -> pd.DataFrame:
    """Per push: best bid, best ask, mid and spread, indexed by ``received_at``."""
    books = Books.of(depth)
    index = pd.DatetimeIndex(books.times.view("datetime64[ns]"), name="received_at").tz_localize("UTC")
    return pd.DataFrame({"bid": books.bid, "ask": books.ask, "mid": books.mid, "spread": books.spread}, index=index)


def index_prices(v3: pd.DataFrame) -> pd.DataFrame:
    """Per push: the index ``price`` and ``status``, indexed by ``received_at``."""
    return v3.drop_duplicates("received_at").set_index("received_at")[["price", "status"]]


def step_polygon(prices: np.ndarray, cumulative: np.ndarray) -> np.ndarray:
    """The outline under a steps-post line through ``prices`` and ``cumulative``, down to 0."""
    if not len(prices):
        return np.empty((0, 2))
    xs = np.r_[prices[0], np.repeat(prices, 2)[1:], prices[-1]]
    ys = np.r_[0.0, np.repeat(cumulative, 2)[:-1], 0.0]
    return np.column_stack([xs, ys])


@dataclass(frozen=True)
class Layout:
    """What a live scene's static parts show: the ``structure`` (titles, the pairs listed; a
    change lays the figure out again) and the axes' ``limits`` (a change redraws the ticks in
    the same layout, unless their labels no longer fit)."""

    structure: Hashable
    limits: Hashable


class Scene:
    """The artists of one chart on its figure, set in place from rows. ``live`` scenes mark
    what changes from push to push as animated (drawn over the saved background) and keep
    their limits by :class:`Range`; static ones fit the limits to the data."""

    animated: list[Artist]
    columns: tuple[str, ...] | None = None
    """The columns :meth:`update` reads (a live chart builds only these), if not all."""
    caption: str
    """What the newest push shows in words (a live chart shows it beside the figure: text is
    the costliest thing to draw, and the browser draws it sharper)."""

    def __init__(self, figure: Figure, live: bool) -> None:
        self.figure = figure
        self.live = live
        self.animated = []
        self.caption = WAITING

    def update(self, rows: pd.DataFrame, title: str | None, now: float) -> Layout | None:
        """Set every artist from ``rows`` (the newest pushes, oldest first) at ``now``; return
        the layout key of a live scene (None for a static one)."""
        raise NotImplementedError

    def paint(self, pixels: np.ndarray) -> None:
        """Write straight into a live frame's ``pixels`` (RGBA, top row first) before the
        animated artists are drawn, where numpy is much cheaper than an artist; most scenes
        have nothing to paint."""

    def animate(self, *artists: Artist) -> None:
        """Mark ``artists`` as the ones that change from frame to frame."""
        for artist in artists:
            artist.set_animated(self.live)
        self.animated.extend(artists)

    def limits(self, ax: Axes, x: tuple[float, float] | None, y: tuple[float, float] | None) -> None:
        """Set ``ax``'s limits where they differ (setting them costs, even unchanged)."""
        if x is not None and ax.get_xlim() != x:
            ax.set_xlim(x)
        if y is not None and ax.get_ylim() != y:
            ax.set_ylim(y)

    def waiting_text(self, ax: Axes) -> Text:
        """The "waiting for the first push" note in the middle of ``ax``."""
        return ax.text(0.5, 0.5, WAITING, transform=ax.transAxes, ha="center", va="center", color=MUTED, fontsize="large")

    def time_series(
        self, ax: Axes, line: Line2D, times: np.ndarray, values: np.ndarray, window: float, limits: Range, now: float
    ) -> Hashable:
        """Set ``line`` to ``values`` over ``times`` (ns): in a live scene as seconds before the
        newest time, within ``window`` seconds and the limits ``limits`` keeps; else as clock
        times fitted to the data. Returns the limits set (live) or None."""
        if not self.live:
            line.set_data(date2num(times.view("datetime64[ns]")), values)
            if len(times):
                ax.relim()
                ax.autoscale_view()
            return None
        line.set_data((times - times[-1]) / 1e9 if len(times) else np.empty(0), values)
        low, high = limits.fit(*extent(values), now)
        self.limits(ax, (-window, window * 0.02), (low, high))
        return low, high

    def window(self, window: Window, times: np.ndarray, now: float) -> float:
        """The live time axis's seconds for pushes at ``times`` (ns, one per push): ``window``
        fitted to their span."""
        return window.fit((times[-1] - times[0]) / 1e9 if len(times) > 1 else 0.0, now)


def extent(values: np.ndarray) -> tuple[float, float]:
    """The lowest and highest finite value (NaN, NaN if none)."""
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if len(finite) else (math.nan, math.nan)


class DepthScene(Scene):
    """The order book as cumulative depth (step lines over filled areas) above the mid price
    and the spread over time."""

    columns = ("received_at", "symbol", "side", "level", "price", "volume")

    def __init__(self, figure: Figure, live: bool) -> None:
        super().__init__(figure, live)
        top, mid, spread = figure.axes
        self.axes = (top, mid, spread)
        self.steps = {side: top.plot([], [], drawstyle="steps-post", color=c, label=side)[0] for side, c in SIDE_COLOURS.items()}
        self.fills: dict[str, Polygon] = {}
        for side, colour in SIDE_COLOURS.items():
            self.fills[side] = Polygon(np.empty((0, 2)), color=colour, alpha=0.25, lw=0)
            top.add_patch(self.fills[side])
        top.legend(loc="upper center", ncols=2)
        top.set_xlabel("price − mid" if live else "price")
        top.set_ylabel("cumulative volume")
        self.mid = mid.plot([], [], color=LINE_COLOUR)[0]
        mid.set_ylabel("mid")
        mid.tick_params(axis="x", labelbottom=False)
        self.spread = spread.plot([], [], color=SPREAD_COLOUR)[0]
        spread.set_ylabel("spread")
        if live:
            spread.set_xlabel(AGO)
        else:
            time_axis(spread)
        mid.sharex(spread)
        self.waiting = self.waiting_text(top)
        self.prices, self.volumes = Range(0.25), Range(0.5, zero=True)
        self.times, self.mids, self.spreads = Window(), Range(), Range()
        self.animate(*self.steps.values(), *self.fills.values(), self.mid, self.spread)

    def update(self, rows: pd.DataFrame, title: str | None, now: float) -> Layout | None:
        top, mid, spread = self.axes
        books = Books.of(rows)
        centre = books.centre if self.live else 0.0  # a live book is drawn around its mid: its axis then stays put
        for side in SIDE_COLOURS:
            levels, cumulative = books.book.get(side, (np.empty(0), np.empty(0)))
            self.steps[side].set_data(levels - centre, cumulative)
            self.fills[side].set_xy(step_polygon(levels - centre, cumulative))
        has_data = bool(len(books.times))
        self.waiting.set_visible(not has_data)
        if has_data:
            when = clock(pd.Timestamp(books.times[-1], tz="UTC"))
            self.caption = f"{books.symbol} order book at {when}: mid {books.mid[-1]:,.6g}, spread {books.spread[-1]:,.6g}"
        if title is None:
            if not has_data:
                title = "order book depth"
            elif self.live:  # the rest changes with every push: the caption says it
                title = f"{books.symbol} order book around the mid"
            else:
                title = self.caption.replace(": ", "\n", 1)
        top.set_title(title)
        window = self.window(self.times, books.times, now)
        series = (
            self.time_series(mid, self.mid, books.times, books.mid, window, self.mids, now),
            self.time_series(spread, self.spread, books.times, books.spread, window, self.spreads, now),
        )
        if not self.live:
            if has_data:
                top.relim()
                top.autoscale_view()
            return None
        both = [books.book[side] for side in SIDE_COLOURS if side in books.book]
        low, high = extent(np.concatenate([levels - centre for levels, _ in both] or [np.empty(0)]))
        reach = max(-low, high)  # the book's farthest level from the mid: the axis is centred on the mid
        x = self.prices.fit(-reach, reach, now)
        y = self.volumes.fit(0.0, extent(np.concatenate([c for _, c in both] or [np.empty(0)]))[1], now)
        self.limits(top, x, y)
        return Layout(title, (x, y, window, series))


def pair_labels(exchanges: Iterable[object], symbols: Iterable[object]) -> tuple[str, ...]:
    """``exchange pair_symbol`` of each pair, cut to :data:`LABEL_CHARACTERS` with an ellipsis
    (a name longer than that would squeeze the bars to nothing)."""
    labels = (f"{e} {p}" for e, p in zip(exchanges, symbols))
    return tuple(label if len(label) <= LABEL_CHARACTERS else label[: LABEL_CHARACTERS - 1] + "…" for label in labels)


LABEL_CHARACTERS = 36
"""The longest pair label a chart shows whole."""


class PairWeightsScene(Scene):
    """Each exchange pair's weight in the newest push as a horizontal bar coloured by its status
    (the legend says what each status means), beside the index price over time."""

    columns = (
        "received_at",
        "price",
        "underlying_symbol",
        "quote_symbol",
        "exchange",
        "pair_symbol",
        "pair_weight",
        "pair_status",
    )

    def __init__(self, figure: Figure, live: bool) -> None:
        super().__init__(figure, live)
        left, right = figure.axes
        self.axes = (left, right)
        left.set_xlabel("pair weight")
        figure.legend(
            handles=[Patch(color=c, label=f"{k}: {t}") for k, (t, c) in PAIR_STATUS.items()],
            loc="outside lower center",
            ncols=len(PAIR_STATUS),
            fontsize="small",
            frameon=False,
        )
        self.price = right.plot([], [], color=LINE_COLOUR)[0]
        if live:
            right.set_xlabel(AGO)
        else:
            time_axis(right)
        self.waiting = self.waiting_text(left)
        self.pairs: tuple[str, ...] | None = None
        self.bars: list[Rectangle] = []
        self.zeros = left.scatter([], [], marker="D", s=40, clip_on=False, zorder=3, edgecolors="white")
        self.weights, self.times, self.prices = Range(0.25, zero=True), Window(), Range()
        self.animate(self.price, self.zeros)

    def update(self, rows: pd.DataFrame, title: str | None, now: float) -> Layout | None:
        left, right = self.axes
        received = nanoseconds(rows["received_at"], "v3's received_at")
        starts = push_starts(received)
        newest = int(starts[-1]) if len(starts) else 0
        push = rows.iloc[newest:]
        exchange = push["exchange"].to_numpy()
        listed = np.flatnonzero(pd.notna(exchange))
        labels = pair_labels(exchange[listed], push["pair_symbol"].to_numpy()[listed])
        if labels != self.pairs:
            self.lay_out(labels)
        weights = push["pair_weight"].to_numpy(dtype="float64")[listed]
        codes = push["pair_status"].to_numpy(dtype="float64", na_value=np.nan)[listed]
        colours = [PAIR_STATUS.get(int(code), OTHER_STATUS)[1] if code == code else OTHER_STATUS[1] for code in codes]
        for bar, weight, colour in zip(self.bars, weights, colours):
            bar.set_width(weight if np.isfinite(weight) else 0.0)
            bar.set_color(colour)
        zero = np.flatnonzero(~(weights > 0))  # a zero-width bar shows nothing: a marker in its status colour does
        self.zeros.set_offsets(np.column_stack([np.zeros(len(zero)), zero]))
        self.zeros.set_facecolor([colours[i] for i in zero] or "none")
        has_data = bool(len(starts))
        self.waiting.set_visible(not has_data)
        prices = rows["price"].to_numpy(dtype="float64")[starts]
        times = received[starts]
        if has_data:
            pair = f"{rows['underlying_symbol'].iat[newest]}/{rows['quote_symbol'].iat[newest]}"
            when = clock(pd.Timestamp(times[-1], tz="UTC"))
            self.caption = f"{pair} v3 pair weights at {when}: index price {prices[-1]:,.8g}"
        if title is None:
            title = "v3 pair weights" if not has_data else f"{pair} v3 pair weights"
            if not self.live and has_data:  # a live chart's caption says when, as it changes with every push
                title += f" at {when}"
        left.set_title(title)
        right.set_title(f"index price {prices[-1]:,.8g}" if len(prices) and not self.live else "index price")
        window = self.window(self.times, times, now)
        series = self.time_series(right, self.price, times, prices, window, self.prices, now)
        high = extent(weights)[1]
        if not self.live:
            left.set_xlim(0.0, high * 1.1 if high > 0 else 1.0)
            return None
        x = self.weights.fit(0.0, high, now)
        self.limits(left, x, None)
        return Layout((title, labels), (x, window, series))

    def lay_out(self, labels: tuple[str, ...]) -> None:
        """Bars and tick labels for the pairs ``labels`` (a new set of pairs)."""
        left = self.axes[0]
        for bar in self.bars:
            bar.remove()
        self.animated = [a for a in self.animated if a not in self.bars]
        rows = np.arange(len(labels))
        self.bars = list(left.barh(rows, np.zeros(len(labels))).patches)
        points = self.figure.get_figheight() * 72 * 0.6  # what the bars' axes get of the height, about
        size = min(10.0, max(6.0, points / max(len(labels), 1) / 1.4))
        left.set_yticks(rows, labels, fontsize=size)
        left.set_ylim(max(len(labels), 1) - 0.5, -0.5)  # the first pair on top
        self.pairs = labels
        self.animate(*self.bars)


PICTURE_SCALE = 2.0
"""Device pixels per CSS pixel of a chart's picture (shown in Jupyter, kept, written by the demo):
sharp on a high-resolution screen, and on a normal one (scaled down) no worse than drawn at 1."""


class ChartFigure(Figure):
    """A figure that shows itself in Jupyter as a PNG drawn at :data:`PICTURE_SCALE` times its
    size and shown at its size, with or without pyplot."""

    def _repr_png_(self) -> tuple[bytes, dict[str, int]]:
        width, height = (round(v) for v in self.get_size_inches() * self.dpi)
        return png(self, scale=PICTURE_SCALE), {"width": width, "height": height}

    def _ipython_display_(self) -> None:
        """Display :meth:`_repr_png_` in IPython whatever pyplot did: once pyplot's inline backend
        is on (``plt.show()`` ran), its formatter for every figure comes before ``_repr_png_`` and
        would show this one at 1x, trimmed."""
        from IPython.display import display

        picture, size = self._repr_png_()
        data = {"image/png": base64.b64encode(picture).decode("ascii"), "text/plain": repr(self)}
        display(data, metadata={"image/png": size}, raw=True)


@dataclass(frozen=True)
class Chart:
    """A chart of one table: its figure's layout and the :class:`Scene` that draws on it.

    ``size`` is in CSS pixels (what the figure measures on screen at 100 dpi); :meth:`figure`
    draws it ``scale`` times as finely, for screens with that many device pixels per CSS pixel.
    """

    table: str
    scene: Callable[[Figure, bool], Scene]
    size: tuple[int, int]
    rows: int
    cols: int
    ratios: tuple[float, ...]

    def figure(self, scale: float = 1.0) -> ChartFigure:
        """A figure holding the chart's empty axes."""
        fig = ChartFigure(figsize=(self.size[0] / 100, self.size[1] / 100), dpi=100 * scale, layout="constrained")
        ratios = {"height_ratios" if self.rows > 1 else "width_ratios": self.ratios}
        fig.subplots(self.rows, self.cols, squeeze=False, **ratios)
        return fig

    def plot(self, df: pd.DataFrame, title: str | None = None, argument: str = "df") -> ChartFigure:
        """The chart of a whole DataFrame of the chart's table (``argument`` names it in errors)."""
        frame_with(df, argument, f"a {self.table} DataFrame", [name for name, _ in schema(tables.TABLES[self.table])])
        fig = self.figure()
        self.scene(fig, False).update(df, title, 0.0)
        return fig


def png(fig: Figure, scale: float = 1.0) -> bytes:
    """``fig`` rendered as PNG at ``scale`` times its dpi, in one draw (``savefig`` draws twice
    when a layout engine is set) and with light compression (a third of the default's time)."""
    dpi = fig.dpi
    fig.set_dpi(dpi * scale)
    try:
        buffer = io.BytesIO()
        FigureCanvasAgg(fig).print_png(buffer, pil_kwargs={"compress_level": 1})
    finally:
        fig.set_dpi(dpi)
    return buffer.getvalue()


DEPTH_CHART = Chart("depth", DepthScene, (720, 600), rows=3, cols=1, ratios=(3, 1, 1))
PAIR_WEIGHTS_CHART = Chart("pair_index_v3", PairWeightsScene, (960, 520), rows=1, cols=2, ratios=(3, 2))


def plot_depth(depth: pd.DataFrame, title: str | None = None) -> ChartFigure:
    """The latest order book of a depth DataFrame as cumulative depth, with mid price and spread
    over time beneath."""
    return DEPTH_CHART.plot(depth, title, "depth")


def plot_pair_weights(v3: pd.DataFrame, title: str | None = None) -> ChartFigure:
    """The latest v3 pair weight breakdown of a ``pair_index_v3`` DataFrame, coloured by pair
    status, beside the index price over time."""
    return PAIR_WEIGHTS_CHART.plot(v3, title, "v3")
