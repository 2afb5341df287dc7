"""The order-book heatmap: resting volume by price and time, with the best bid and ask over it.

:func:`volume_grid` bins a depth DataFrame into a price × time grid of resting volume with numpy
alone, vectorized (a live chart calls it on every redraw); :func:`draw_depth_heatmap` draws a
grid on an axes and returns the artists a live chart updates in place (:meth:`HeatmapArtists.update`);
:func:`plot_depth_heatmap` (``nd.plot_depth_heatmap``) does both on a figure of its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colorbar import Colorbar
from matplotlib.colors import PowerNorm
from matplotlib.dates import date2num
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patheffects import Normal, Stroke
from matplotlib.ticker import AutoLocator, ScalarFormatter

from .checks import floats, nanoseconds, nonempty_str, positive_int
from .errors import ArgumentError
from .feed import clock
from .frames import frame_with
from .frames.book import best_prices, push_starts, side_codes
from .plots import (
    AGO,
    SIDE_COLOURS,
    WAITING,
    Chart,
    ChartFigure,
    Layout,
    Range,
    Scene,
    Window,
    extent,
    time_axis,
)

PRICE_BINS = 120
"""Price rows of the grid by default."""

TIME_BINS = 600
"""Time columns of the grid at most, by default: one per push up to this many, then equal-width
bins each showing the last push in it."""

MAX_BINS = 4096
"""The most price or time bins: more than a picture has pixels across, and a grid of at most
128 MiB."""

MARGIN = 0.02
"""The default price range is the data's lowest to highest price, widened by this share of
that span on each side (so the outermost levels are not drawn on the frame)."""

COLOURMAP = "magma"
"""Perceptually uniform, from black (an empty price bin) to pale yellow (the largest volume)."""

GAMMA = 0.5
"""The colour scale is the square root of the volume (``PowerNorm(0.5)`` from 0 to the grid's
largest volume): a level with 1% of the largest volume still gets a tenth of the colour range,
so thin levels stay visible beside walls, and an empty bin (0) is the bottom colour. A
logarithmic scale would need an arbitrary floor for the many zeros and makes dust as loud as a
wall."""

DEPTH_COLUMNS = ("received_at", "symbol", "side", "level", "price", "volume")
"""The depth columns the heatmap reads."""

_DEPTH = "a depth DataFrame"
_SECOND = 1_000_000_000
_NAT = np.iinfo(np.int64).min


@dataclass(frozen=True, eq=False)
class Best:
    """The best bid and ask of every push up to the grid's end, oldest first: ``times``
    (``datetime64[ns]``, UTC, when the push was received) and the level-0 prices ``bid`` and
    ``ask`` (float64; NaN where a push had no level 0 on that side)."""

    times: np.ndarray
    bid: np.ndarray
    ask: np.ndarray


@dataclass(frozen=True, eq=False)
class Grid:
    """Resting volume on a price × time grid, for one symbol.

    - ``times``: the time bin edges, ``datetime64[ns]`` in UTC (tz-naive numpy values), one more
      than the columns; a column covers ``[times[j], times[j + 1])``.
    - ``prices``: the price bin edges (float64), one more than the rows, lowest first; a row
      covers ``[prices[i], prices[i + 1])``, the last one including its upper edge.
    - ``volume``: float64 of shape (rows, columns) = (price bins, time bins): the volume resting
      in each price bin as the book was last seen at or before the column's end (the last push
      in the column, else the previous column's book); the levels in one price bin add up.
      NaN where no book is known yet (before the first push); 0 where the book had nothing.
    - ``best``: the best bid and ask of every push up to the grid's end (:class:`Best`).
    - ``symbol``: the symbol shown, ``None`` for an empty frame.

    With no push to show and no range given, ``times`` and ``prices`` have no edges and
    ``volume`` no cells.
    """

    times: np.ndarray
    prices: np.ndarray
    volume: np.ndarray
    best: Best
    symbol: str | None = None


def volume_grid(
    depth: pd.DataFrame,
    *,
    price_bins: int = PRICE_BINS,
    time_bins: int = TIME_BINS,
    prices: tuple[float, float] | None = None,
    times: tuple[Any, Any] | None = None,
    symbol: str | None = None,
) -> Grid:
    """The resting volume of a depth DataFrame (one symbol) on a price × time :class:`Grid`.

    Prices: ``price_bins`` equal rows over ``prices=(low, high)``, by default the span of the
    prices shown widened by :data:`MARGIN` on each side. Levels outside a given range are
    dropped, not clipped to its edge (that would pile far volume up on the border).

    Times: by default from the first push to the last one plus the mean time between pushes, in
    one column per push, or ``time_bins`` equal columns when there are more pushes. With
    ``times=(start, end)`` (anything ``pd.Timestamp`` takes; naive times are UTC) the grid spans
    that range in exactly ``time_bins`` columns: a push before ``start`` is the book at
    ``start``, pushes from ``end`` on are left out. Each column shows the last push in it, else
    the book of the column before; NaN volumes count as 0.

    A frame holding several symbols needs ``symbol=`` (or filtering to one). The rows of a push
    are those sharing a ``received_at``, in any order.
    """
    depth = depth_frame(depth, "depth")
    rows = positive_int(price_bins, "price_bins", maximum=MAX_BINS)
    most = positive_int(time_bins, "time_bins", maximum=MAX_BINS)
    price_range = _price_range(prices)
    time_range = _time_range(times)
    depth, name = _one_symbol(depth, symbol)
    if depth.attrs:  # every column read would deep-copy a collector's attrs (its gap and reply logs)
        depth = pd.DataFrame(depth, copy=False)
    levels = _Levels.of(depth)
    starts = push_starts(levels.received)  # each push's first row, oldest first
    push_times = levels.received[starts]
    if time_range is None and not len(push_times):
        return _empty(rows, price_range, name)
    span = _time_span(push_times, time_range, most)
    shown = _Shown.of(span, push_times, starts, len(levels.received))
    shown_price, shown_volume = levels.price[shown.rows], levels.volume[shown.rows]
    low, high = _price_span(shown_price, price_range)
    grid = _volumes(shown_price, shown_volume, shown.at, (low, high, rows), span.columns)
    return Grid(
        times=_edges(span.start, span.end, span.columns),
        prices=np.linspace(low, high, rows + 1),
        volume=_carried_forward(grid, shown.column[shown.last]).T,
        best=_best(depth["side"], levels, starts[: len(shown.column)], push_times, shown.cut),
        symbol=name,
    )


@dataclass(frozen=True, eq=False)
class _Levels:
    """A depth frame's rows read once, as :func:`volume_grid` needs them: in time order, without
    rows of no time (``order`` says which rows of the frame, in which order, when they were not
    already)."""

    received: np.ndarray  # int64 ns
    price: np.ndarray
    volume: np.ndarray
    level0: np.ndarray  # whether a row is its side's best
    order: np.ndarray | None

    @classmethod
    def of(cls, depth: pd.DataFrame) -> _Levels:
        received = nanoseconds(depth["received_at"], "depth's received_at")
        price = floats(depth["price"], "depth's price")
        volume = floats(depth["volume"], "depth's volume")
        level0 = depth["level"].to_numpy() == 0
        order = None
        if len(received) and received.min() == _NAT:
            order = np.flatnonzero(received != _NAT)
        if len(received) > 1:
            times_in_order = received if order is None else received[order]
            if not np.all(times_in_order[1:] >= times_in_order[:-1]):
                order = np.argsort(received, kind="stable") if order is None else order[np.argsort(times_in_order, kind="stable")]
        if order is None:
            return cls(received, price, volume, level0, None)
        return cls(received[order], price[order], volume[order], level0[order], order)

    def original(self, rows: np.ndarray) -> np.ndarray:
        """The frame's row numbers of ``rows`` (numbered in time order)."""
        return rows if self.order is None else self.order[rows]


@dataclass(frozen=True)
class _TimeSpan:
    """The grid's time axis: ``columns`` equal columns from ``start`` to ``end`` (ns)."""

    start: int
    end: int
    columns: int


def _time_span(push_times: np.ndarray, time_range: tuple[int, int] | None, most: int) -> _TimeSpan:
    """The given ``time_range`` in ``most`` columns; by default from the first push to the last
    one plus the mean time between pushes, a column per push up to ``most``."""
    if time_range is not None:
        return _TimeSpan(*time_range, most)
    start = int(push_times[0])
    gap = (int(push_times[-1]) - start) // (len(push_times) - 1) if len(push_times) > 1 else _SECOND
    return _TimeSpan(start, int(push_times[-1]) + gap, min(len(push_times), most))


@dataclass(frozen=True, eq=False)
class _Shown:
    """Which pushes the grid's columns show: the pushes before the span's end (their rows are
    those before ``cut``), each one's ``column``, and whether it is the ``last`` in its column
    (the one the column shows); the ``rows`` of the shown pushes and the column each is ``at``."""

    cut: int
    column: np.ndarray
    last: np.ndarray
    rows: slice | np.ndarray
    at: np.ndarray

    @classmethod
    def of(cls, span: _TimeSpan, push_times: np.ndarray, starts: np.ndarray, rows: int) -> _Shown:
        kept = int(np.searchsorted(push_times, span.end))
        cut = int(starts[kept]) if kept < len(starts) else rows
        starts = starts[:kept]
        column = _column_of(push_times[:kept] - span.start, span.end - span.start, span.columns)
        last = np.ones(kept, dtype=bool)
        last[:-1] = column[1:] != column[:-1]
        sizes = np.diff(starts, append=cut)  # each push's rows
        if last.all():
            return cls(cut, column, last, slice(0, cut), np.repeat(column, sizes))
        # the rows of the shown pushes only: ranges joined without a loop
        shows, counts = np.flatnonzero(last), sizes[last]
        before = np.cumsum(counts) - counts
        picked = np.arange(int(counts.sum())) + np.repeat(starts[shows] - before, counts)
        return cls(cut, column, last, picked, np.repeat(column[shows], counts))


def _price_span(shown: np.ndarray, price_range: tuple[float, float] | None) -> tuple[float, float]:
    """The given ``price_range``; by default the ``shown`` prices' span (NaN left out) widened by
    :data:`MARGIN` on each side."""
    if price_range is not None:
        return price_range
    low, high = (float(f.reduce(shown)) if len(shown) else math.nan for f in (np.fmin, np.fmax))
    if math.isnan(low):
        return 0.0, 1.0
    pad = (high - low) * MARGIN or max(abs(low) * 1e-4, 1e-9)
    return low - pad, high + pad


def _volumes(price: np.ndarray, volume: np.ndarray, at: np.ndarray, bins: tuple[float, float, int], columns: int) -> np.ndarray:
    """The ``volume`` of levels at ``price`` in the columns ``at``, summed into ``bins`` (low,
    high, rows) price rows, as a (columns, rows) array (a time-major layout, so that carrying a
    column forward copies a contiguous block). Levels outside the range are dropped; NaN
    volumes count as 0."""
    low, high, rows = bins
    inside = (price >= low) & (price <= high)  # NaN prices fail both
    if not inside.all():
        price, volume, at = price[inside], volume[inside], at[inside]
    cell = np.minimum(((price - low) * (rows / (high - low))).astype(np.int64), rows - 1)
    cell += at * rows
    missing = np.isnan(volume)
    weights = np.where(missing, 0.0, volume) if missing.any() else volume
    grid = np.bincount(cell, weights=weights, minlength=columns * rows).astype(np.float64, copy=False)  # int when empty
    return grid.reshape(columns, rows)


def _carried_forward(grid: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """``grid`` (columns, rows) with each column that shows no push (not in ``shown``) showing
    the book of the one before, NaN before the first."""
    seen = np.full(len(grid), -1)
    seen[shown] = shown
    if (seen >= 0).all():
        return grid
    source = np.maximum.accumulate(seen)
    grid = grid[np.maximum(source, 0)]
    grid[source < 0] = np.nan
    return grid


@dataclass(frozen=True, eq=False)
class HeatmapArtists:
    """What :func:`draw_depth_heatmap` drew, for a live chart to update in place with
    :meth:`update`: the grid's ``image``, the ``bid`` and ``ask`` step lines and the ``colorbar``."""

    image: AxesImage
    bid: Line2D
    ask: Line2D
    colorbar: Colorbar

    def update(self, grid: Grid, title: str | None = None) -> None:
        """Show ``grid`` on the same artists: the image's data, extent and colour scale (the
        colorbar follows), the best bid and ask lines, the axes' limits and the title. Each line
        steps on from its last push to the grid's end."""
        x0, x1 = date2num(grid.times[[0, -1]]) if len(grid.times) > 1 else (0.0, 1.0)
        y0, y1 = (float(grid.prices[0]), float(grid.prices[-1])) if len(grid.prices) > 1 else (0.0, 1.0)
        top = float(np.fmax.reduce(grid.volume, axis=None)) if grid.volume.size else math.nan  # NaN: no book at all
        self.image.set_data(grid.volume if grid.volume.size else np.full((1, 1), np.nan))
        self.image.set_extent((x0, x1, y0, y1))
        self.image.set_clim(0.0, top if top > 0 else 1.0)
        ends = np.append(date2num(grid.best.times), x1)
        for line, prices in ((self.bid, grid.best.bid), (self.ask, grid.best.ask)):
            line.set_data(ends if len(prices) else [], np.append(prices, prices[-1:]))
        ax = self.image.axes
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        if title is None:
            title = f"{grid.symbol} order book heatmap" if grid.symbol else "order book heatmap"
            title += ": no data" if math.isnan(top) else ""
        ax.set_title(title)


def draw_depth_heatmap(ax: Axes, grid: Grid, title: str | None = None) -> HeatmapArtists:
    """``grid`` on ``ax``: resting volume as an image (colour: :data:`COLOURMAP` on a square-root
    scale, see :data:`GAMMA`; transparent where no book is known), a colorbar, the best bid and
    ask as step lines over it, clock time on x, price on y, titled "SYMBOL order book heatmap"
    unless ``title`` is given. Returns the artists, for :meth:`HeatmapArtists.update`."""
    cmap = colormaps[COLOURMAP].with_extremes(bad=(0.0, 0.0, 0.0, 0.0))
    image = ax.imshow(
        np.full((1, 1), np.nan),
        cmap=cmap,
        norm=PowerNorm(GAMMA, vmin=0.0, vmax=1.0),
        aspect="auto",
        origin="lower",
        interpolation="nearest",
        extent=(0.0, 1.0, 0.0, 1.0),
    )
    outline = [Stroke(linewidth=2.6, foreground="white", alpha=0.9), Normal()]  # readable on black and on bright cells
    bid, ask = (
        ax.plot([], [], drawstyle="steps-post", color=SIDE_COLOURS[side], lw=1.2, label=f"best {side}", path_effects=outline)[0]
        for side in ("bid", "ask")
    )
    colorbar = ax.figure.colorbar(image, ax=ax, label="resting volume", pad=0.01)
    ax.set_ylabel("price")
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    time_axis(ax)
    # above the cells, right of the title: nothing of the book hidden, and a live frame paints the cells freely
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, fontsize="small", frameon=False, borderaxespad=0.2)
    artists = HeatmapArtists(image, bid, ask, colorbar)
    artists.update(grid, title)
    return artists


def plot_depth_heatmap(
    depth: pd.DataFrame,
    title: str | None = None,
    *,
    symbol: str | None = None,
    price_bins: int = PRICE_BINS,
    time_bins: int = TIME_BINS,
) -> ChartFigure:
    """The order-book heatmap of a depth DataFrame: resting volume by price and time (colour),
    with the best bid and ask over it; ``symbol=`` picks one symbol of several. The grid is
    :func:`volume_grid`'s with ``price_bins`` and ``time_bins``."""
    grid = volume_grid(depth, price_bins=price_bins, time_bins=time_bins, symbol=symbol)
    fig = ChartFigure(figsize=(9.0, 5.0), dpi=100, layout="constrained")
    draw_depth_heatmap(fig.add_subplot(), grid, title)
    return fig


def depth_frame(df: Any, argument: str) -> pd.DataFrame:
    """``df`` if it is a DataFrame with the depth columns the heatmap reads, else an
    :class:`ArgumentError` in the words of ``nd.plot_depth``'s."""
    return frame_with(df, argument, _DEPTH, DEPTH_COLUMNS)


def _one_symbol(depth: pd.DataFrame, symbol: str | None) -> tuple[pd.DataFrame, str | None]:
    """The rows of one symbol and its name: ``symbol``'s, else the frame's only one."""
    column = depth["symbol"]
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.array.codes
        if len(codes) and codes[0] >= 0 and codes.min() == codes.max():  # the usual case, without a scan of strings
            only = str(column.array.categories[codes[0]])
            if symbol is None or symbol == only:
                return depth, only
    present = [str(s) for s in pd.unique(column.dropna())]
    if symbol is not None:
        symbol = nonempty_str(symbol, "symbol")
        if present and symbol not in present:
            raise ArgumentError(f"symbol must be one of the frame's symbols ({', '.join(present)}), got {symbol!r}")
        return (depth[column == symbol] if present else depth), symbol
    if len(present) > 1:
        raise ArgumentError(
            f"depth must hold one symbol, got {len(present)} ({', '.join(present)}): pass symbol= to pick one,"
            " or filter the frame to one symbol"
        )
    return depth, (present[0] if present else None)


def _price_range(prices: Any) -> tuple[float, float] | None:
    if prices is None:
        return None
    accepted = "prices must be a (low, high) pair of finite numbers with low < high"
    if not isinstance(prices, Sequence) or isinstance(prices, str) or len(prices) != 2:
        raise ArgumentError(f"{accepted}, got {prices!r}")
    if any(isinstance(p, bool) or not isinstance(p, (int, float, np.number)) for p in prices):
        raise ArgumentError(f"{accepted}, got {prices!r}")
    low, high = float(prices[0]), float(prices[1])
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ArgumentError(f"{accepted}, got {prices!r}")
    return low, high


def _time_range(times: Any) -> tuple[int, int] | None:
    """``(start, end)`` as int64 nanoseconds since the epoch, UTC."""
    if times is None:
        return None
    accepted = "times must be a (start, end) pair of times (naive ones are UTC) with start < end"
    if not isinstance(times, Sequence) or isinstance(times, str) or len(times) != 2:
        raise ArgumentError(f"{accepted}, got {times!r}")
    try:
        stamps = [pd.Timestamp(t) for t in times]
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"{accepted}, got {times!r}") from exc
    if any(pd.isna(s) for s in stamps):
        raise ArgumentError(f"{accepted}, got {times!r}")
    start, end = (int((s.tz_localize("UTC") if s.tzinfo is None else s).as_unit("ns").value) for s in stamps)
    if not start < end:
        raise ArgumentError(f"{accepted}, got {times!r}")
    return start, end


def _column_of(offsets: np.ndarray, span: int, columns: int) -> np.ndarray:
    """The column (``0..columns-1``) of each time ``offsets`` ns after the grid's start, in
    integer arithmetic, so that a push exactly on an edge opens its column; before the start: 0."""
    if span <= np.iinfo(np.int64).max // columns:
        column = offsets * columns // span
    else:  # a span of months: int64 would overflow, and floats are exact to a few microseconds
        column = np.minimum(np.floor(offsets / span * columns).astype(np.int64), columns - 1)
    return np.maximum(column, 0)


def _edges(start: int, end: int, columns: int) -> np.ndarray:
    """``columns`` + 1 equal-width time edges from ``start`` to ``end`` (ns), as datetime64[ns]:
    edge ``j`` is the first nanosecond :func:`_column_of` puts in column ``j``, ``start +
    ceil(j * span / columns)``, computed without overflow."""
    whole, rest = divmod(end - start, columns)
    steps = np.arange(columns + 1, dtype=np.int64)
    return (start + whole * steps + (rest * steps + columns - 1) // columns).astype("datetime64[ns]")


def _best(side: pd.Series, levels: _Levels, starts: np.ndarray, push_times: np.ndarray, cut: int) -> Best:
    """The best bid and ask of the pushes starting at ``starts`` (the pushes before the grid's
    end, whose rows are those before ``cut``), from their level-0 rows."""
    top = np.flatnonzero(levels.level0[:cut])
    bid, ask = best_prices(starts, top, side_codes(side, levels.original(top)), levels.price)
    return Best(push_times[: len(starts)].astype("datetime64[ns]"), bid, ask)


def _empty(rows: int, price_range: tuple[float, float] | None, name: str | None) -> Grid:
    """The grid of a frame without a push: no time edges, and no price edges unless a range was given."""
    edges = np.linspace(*price_range, rows + 1) if price_range else np.zeros(0)
    nothing = np.zeros(0, dtype="datetime64[ns]")
    return Grid(nothing, edges, np.zeros((max(len(edges) - 1, 0), 0)), Best(nothing, np.zeros(0), np.zeros(0)), name)


LIVE_TIME_BINS = 300
"""Time columns of a live heatmap: its window in seconds before the newest push, in equal columns."""


class HeatmapScene(Scene):
    """The heatmap as a chart: static, :func:`draw_depth_heatmap` of the whole frame; live, the
    newest pushes in seconds before the newest one, the price rows and the colour scale kept by
    :class:`~nexusdata.plots.Range` (a change of either redraws the colorbar and axes), the
    cells and the best bid and ask lines drawn over the background.

    A live frame does not draw the cells through matplotlib's image, which resamples to the
    output at about 35 ns a pixel (55 ms at the default size, twice the whole frame's budget):
    :meth:`paint` writes the grid's colours into the canvas's pixels itself, nearest cell per
    pixel as the image would draw them, in a few milliseconds."""

    columns = DEPTH_COLUMNS

    def __init__(self, figure: Figure, live: bool) -> None:
        super().__init__(figure, live)
        (ax,) = figure.axes
        self.ax = ax
        self.artists = draw_depth_heatmap(ax, volume_grid(_EMPTY_DEPTH))
        self.colours: np.ndarray | None = None  # the live grid's cells as RGBA bytes, rows from the lowest price
        if live:
            ax.xaxis.set_major_locator(AutoLocator())
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.tick_params(axis="x", labelrotation=0)
            ax.set_xlabel(AGO)
            self.artists.image.set_visible(False)  # painted by paint(); it stays the colorbar's scale
            for line in (self.artists.bid, self.artists.ask):
                line.set_path_effects([])  # an outline doubles a line's cost; on the cells the colours suffice
        self.waiting = self.waiting_text(ax)
        self.times, self.prices, self.volumes = Window(), Range(0.25), Range(0.5, zero=True)
        self.animate(self.artists.bid, self.artists.ask)

    def update(self, rows: pd.DataFrame, title: str | None, now: float) -> Layout | None:
        if rows.attrs:  # as in volume_grid: no deep copy of a collector's attrs per column read
            rows = pd.DataFrame(rows, copy=False)
        received = nanoseconds(rows["received_at"], "depth's received_at")
        has_data = bool(len(received))
        self.waiting.set_visible(not has_data)
        if not self.live:
            grid = volume_grid(rows)
            self.artists.update(grid, title)
            self.caption = self._caption(grid)
            return None
        newest = int(received.max()) if has_data else 0
        seconds = self.window(self.times, received[push_starts(received)], now)
        low, high = self.prices.fit(*extent(floats(rows["price"], "depth's price")), now)
        artists = self.artists
        symbol = None
        if has_data:
            start = newest - int(seconds * _SECOND)
            grid = volume_grid(rows, time_bins=LIVE_TIME_BINS, prices=(low, high), times=(start, newest + 1))
            top = float(np.fmax.reduce(grid.volume, axis=None)) if grid.volume.size else math.nan
            clim = self.volumes.fit(0.0, top if top > 0 else 1.0, now)
            artists.image.set_clim(*clim)
            colours = artists.image.to_rgba(grid.volume, bytes=True)
            colours[np.isnan(grid.volume)] = 255  # no book yet: the axes' white
            self.colours = colours
            ago = np.append((grid.best.times.view(np.int64) - newest) / _SECOND, 0.0)
            for line, prices in ((artists.bid, grid.best.bid), (artists.ask, grid.best.ask)):
                line.set_data(ago if len(prices) else [], np.append(prices, prices[-1:]))
            self.caption = self._caption(grid)
            symbol = grid.symbol
        else:
            clim = self.volumes.fit(0.0, 1.0, now)
            artists.image.set_clim(*clim)
        self.limits(self.ax, (-seconds, 0.0), (low, high))
        if title is None:
            title = f"{symbol} order book heatmap" if symbol else "order book heatmap"
        self.ax.set_title(title)
        return Layout(title, (seconds, (low, high), clim))

    def paint(self, pixels: np.ndarray) -> None:
        """Write the live grid's cells into ``pixels`` (the canvas's RGBA, top row first),
        inside the axes' frame: each pixel takes the cell under its centre."""
        if self.colours is None:
            return
        height = pixels.shape[0]
        box = self.ax.get_window_extent()
        left, right = math.ceil(box.x0) + 1, math.floor(box.x1) - 1  # inside the frame's lines
        top, bottom = height - math.floor(box.y1) + 1, height - math.ceil(box.y0) - 1
        if right <= left or bottom <= top:
            return
        rows, columns = self.colours.shape[:2]
        across = ((np.arange(left, right) + 0.5 - box.x0) / box.width * columns).astype(np.intp).clip(0, columns - 1)
        up = ((height - np.arange(top, bottom) - 0.5 - box.y0) / box.height * rows).astype(np.intp).clip(0, rows - 1)
        # whole cells repeated (a 4-byte pixel as one uint32): columns of the small grid, then rows, no per-pixel gather
        cells = self.colours.view(np.uint32)[..., 0]
        wide = np.repeat(cells, np.bincount(across, minlength=columns), axis=1)
        pixels.view(np.uint32)[top:bottom, left:right, 0] = np.repeat(wide[::-1], np.bincount(up, minlength=rows)[::-1], axis=0)

    @staticmethod
    def _caption(grid: Grid) -> str:
        best = grid.best
        if not len(best.times):
            return WAITING
        when = clock(pd.Timestamp(best.times[-1]).tz_localize("UTC"))
        return f"{grid.symbol} at {when}: best bid {best.bid[-1]:,.6g}, best ask {best.ask[-1]:,.6g}"


_EMPTY_DEPTH = pd.DataFrame(
    {
        name: pd.Series(dtype=dtype)
        for name, dtype in (
            ("received_at", "datetime64[ns, UTC]"),
            ("symbol", "category"),
            ("side", "category"),
            ("level", "int8"),
            ("price", "float64"),
            ("volume", "float64"),
        )
    }
)

HEATMAP_CHART = Chart("depth", HeatmapScene, (900, 520), rows=1, cols=1, ratios=(1,))
"""The live and static order-book heatmap."""
