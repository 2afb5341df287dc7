"""Charts of depth and ``pair_index_v3`` data, shared by the static plots and the live widgets.

Each :class:`Chart` draws the latest push beside a per-push series over time on a matplotlib
figure created without pyplot, so it works in any backend and is redrawn in place by the live
widgets; ``plot_depth(df)`` and ``plot_pair_weights(df)`` draw a saved DataFrame for display
(a PNG in Jupyter) or ``savefig``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .errors import ArgumentError
from .feed import clock
from .frames import latest_push, schema
from .protocol import tables

PAIR_STATUS = {
    1: ("enabled", "#2a9d8f"),
    2: ("dropped (timeout or beyond threshold)", "#e76f51"),
    3: ("disabled (weight configured 0)", "#adb5bd"),
}
"""Pair-level ``status`` of ``pair_index_v3``: meaning and the colour the charts use."""

SIDE_COLOURS = {"bid": "#2a9d8f", "ask": "#e76f51"}


def time_axis(ax: Axes) -> None:
    """Clock times (UTC) on the x axis, as precise as the span needs (sub-second ticks show
    fractions, not repeated seconds), slanted so they never overlap."""
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    formats = ["%Y", "%b", "%d", "%H:%M", "%H:%M:%S", "%H:%M:%S.%f"]
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, formats=formats, show_offset=False))
    ax.tick_params(axis="x", labelrotation=30)
    ax.set_xlabel("received at (UTC)")


def date_numbers(index: pd.DatetimeIndex) -> np.ndarray:
    """UTC times as matplotlib's date numbers, converted in one numpy step (matplotlib's own
    conversion of a pandas index goes element by element: 25 ms for 2,000 times)."""
    return date2num(index.tz_convert(None).to_numpy())


def book_summary(depth: pd.DataFrame) -> pd.DataFrame:
    """Per push: best bid, best ask, mid and spread, indexed by ``received_at``."""
    best = depth[depth["level"] == 0]
    sides = {
        side: best[best["side"] == side].drop_duplicates("received_at").set_index("received_at")["price"]
        for side in ("bid", "ask")
    }
    wide = pd.DataFrame(sides, columns=["bid", "ask"], dtype="float64")
    wide["mid"] = (wide["bid"] + wide["ask"]) / 2
    wide["spread"] = wide["ask"] - wide["bid"]
    return wide


def index_prices(v3: pd.DataFrame) -> pd.DataFrame:
    """Per push: the index ``price`` and ``status``, indexed by ``received_at``."""
    return v3.drop_duplicates("received_at").set_index("received_at")[["price", "status"]]


def draw_book(ax: Axes, book: pd.DataFrame) -> None:
    """Cumulative bid and ask volume against price as step lines, on ``ax``."""
    for side, colour in SIDE_COLOURS.items():
        levels = book[book["side"] == side].sort_values("level")
        if levels.empty:
            continue
        cumulative = np.cumsum(levels["volume"].to_numpy())
        ax.step(levels["price"], cumulative, where="post", color=colour, label=side)
        ax.fill_between(levels["price"], cumulative, step="post", alpha=0.25, color=colour)
    ax.set_xlabel("price")
    ax.set_ylabel("cumulative volume")
    if ax.get_lines():
        ax.legend(loc="upper center")


def draw_depth(axes: Sequence[Axes], book: pd.DataFrame, summary: pd.DataFrame, title: str | None = None) -> None:
    """On the depth chart's three axes: the order book ``book`` as cumulative depth, then
    ``summary``'s mid price and spread over time."""
    top, mid, spread = clear(axes)
    draw_book(top, book)
    if title is None and not book.empty:
        title = f"{book['symbol'].iloc[0]} order book at {clock(book['received_at'].iloc[0])}"
        if not summary.empty:
            title += f"\nmid {summary['mid'].iloc[-1]:,.6g}, spread {summary['spread'].iloc[-1]:,.6g}"
    top.set_title(title or "order book depth")
    when = date_numbers(summary.index)
    mid.plot(when, summary["mid"], color="#264653")
    mid.set_ylabel("mid")
    mid.tick_params(axis="x", labelbottom=False)
    spread.plot(when, summary["spread"], color="#f4a261")
    spread.set_ylabel("spread")
    time_axis(spread)


def draw_pair_weights(ax: Axes, pairs: pd.DataFrame) -> None:
    """Each exchange pair's weight as a horizontal bar coloured by pair status, on ``ax``, with
    the statuses' meanings in the legend."""
    pairs = pairs.dropna(subset=["exchange"])
    rows = range(len(pairs))
    statuses = [PAIR_STATUS.get(int(s), ("other", "#6c757d")) for s in pairs["pair_status"]]
    ax.barh(rows, pairs["pair_weight"], color=[c for _, c in statuses])
    for row, ((text, colour), weight) in zip(rows, zip(statuses, pairs["pair_weight"])):
        if not weight:  # a zero-width bar shows nothing: say why the pair has no weight
            ax.text(0.002, row, text.split(" (")[0], va="center", color=colour, fontweight="bold")
    ax.set_yticks(rows, [f"{e} {p}" for e, p in zip(pairs["exchange"], pairs["pair_symbol"])])
    if len(pairs):
        ax.set_ylim(len(pairs) - 0.5, -0.5)  # the first pair on top
    ax.set_xlabel("pair weight")
    ax.legend(
        handles=[Patch(color=c, label=f"{k}: {t}") for k, (t, c) in PAIR_STATUS.items()],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncols=1,
        fontsize="small",
        frameon=False,
    )


def draw_pair_index(axes: Sequence[Axes], pairs: pd.DataFrame, prices: pd.DataFrame, title: str | None = None) -> None:
    """On the v3 chart's two axes: the pair weight breakdown of ``pairs``, then the index price
    series ``prices``."""
    left, right = clear(axes)
    draw_pair_weights(left, pairs)
    if title is None and not pairs.empty:
        head = pairs.iloc[0]
        title = f"{head['underlying_symbol']}/{head['quote_symbol']} v3 pair weights at {clock(head['received_at'])}"
    left.set_title(title or "v3 pair weights")
    right.plot(date_numbers(prices.index), prices["price"], color="#264653")
    right.set_title(f"index price {prices['price'].iloc[-1]:,.8g}" if not prices.empty else "index price")
    time_axis(right)


class ChartFigure(Figure):
    """A figure that shows itself as a PNG in Jupyter, with or without pyplot."""

    def _repr_png_(self) -> bytes:
        return png(self)


@dataclass(frozen=True)
class Chart:
    """A chart of one table: the latest push drawn beside a per-push ``series`` over time.

    :meth:`figure` lays out the axes once (``rows`` x ``cols``, sized by ``ratios``);
    ``draw(axes, latest, series, title)`` clears and redraws them, so a live widget calls it
    again on the same figure as data arrives.
    """

    table: str
    series: Callable[[pd.DataFrame], pd.DataFrame]
    draw: Callable[[Sequence[Axes], pd.DataFrame, pd.DataFrame, str | None], None]
    figsize: tuple[float, float]
    rows: int
    cols: int
    ratios: tuple[float, ...]

    def figure(self, dpi: float = 100) -> ChartFigure:
        """A figure holding the chart's empty axes."""
        fig = ChartFigure(figsize=self.figsize, dpi=dpi, layout="constrained")
        ratios = {"height_ratios" if self.rows > 1 else "width_ratios": self.ratios}
        fig.subplots(self.rows, self.cols, squeeze=False, **ratios)
        return fig

    def plot(self, df: pd.DataFrame, title: str | None = None, argument: str = "df") -> ChartFigure:
        """The chart of a whole DataFrame of the chart's table (``argument`` names it in errors)."""
        if not isinstance(df, pd.DataFrame):
            raise ArgumentError(f"{argument} must be a {self.table} DataFrame, got {type(df).__name__}")
        missing = [name for name, _ in schema(tables.TABLES[self.table]) if name not in df.columns]
        if missing:
            raise ArgumentError(f"{argument} must be a {self.table} DataFrame; it lacks the columns {', '.join(missing)}")
        fig = self.figure()
        self.draw(fig.axes, latest_push(df), self.series(df), title)
        return fig


def clear(axes: Sequence[Axes]) -> Sequence[Axes]:
    """``axes``, each emptied of what was drawn on it for a redraw. Unlike ``Axes.clear`` this
    keeps the axis and tick objects, whose re-creation is most of a redraw's cost."""
    for ax in axes:
        for artist in [*ax.lines, *ax.collections, *ax.patches, *ax.texts]:
            artist.remove()
        legend = ax.get_legend()
        if legend is not None:
            legend.remove()
        ax.relim()
    return axes


def png(fig: Figure) -> bytes:
    """``fig`` rendered as PNG at its own dpi, in one draw (``savefig`` draws twice when a
    layout engine is set) and with light compression (a third of the default's time)."""
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


DEPTH_CHART = Chart("depth", book_summary, draw_depth, (8.0, 6.5), rows=3, cols=1, ratios=(3, 1, 1))
PAIR_WEIGHTS_CHART = Chart("pair_index_v3", index_prices, draw_pair_index, (11.0, 5.5), rows=1, cols=2, ratios=(3, 2))
CHARTS: dict[str, Chart] = {c.table: c for c in (DEPTH_CHART, PAIR_WEIGHTS_CHART)}
"""The chart of each table that has one."""


def plot_depth(depth: pd.DataFrame, title: str | None = None) -> ChartFigure:
    """The latest order book of a depth DataFrame as cumulative depth, with mid price and spread
    over time beneath."""
    return DEPTH_CHART.plot(depth, title, "depth")


def plot_pair_weights(v3: pd.DataFrame, title: str | None = None) -> ChartFigure:
    """The latest v3 pair weight breakdown of a ``pair_index_v3`` DataFrame, coloured by pair
    status, beside the index price over time."""
    return PAIR_WEIGHTS_CHART.plot(v3, title, "v3")
