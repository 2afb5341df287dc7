"""Static charts of collected DataFrames: the order book's depth and the v3 pair weight breakdown.

They draw on a matplotlib :class:`~matplotlib.figure.Figure` created without pyplot, so they work
in any thread and any backend, and return the figure for ``savefig`` or display.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure
from matplotlib.patches import Patch

PAIR_STATUS = {
    1: ("enabled", "#2a9d8f"),
    2: ("dropped (timeout or beyond threshold)", "#e76f51"),
    3: ("disabled (weight configured 0)", "#adb5bd"),
}
"""Pair-level ``status`` of ``pair_index_v3``: meaning and the colour the charts use."""


def time_axis(ax: Any) -> None:
    """Clock times (UTC) on the x axis, slanted so they never overlap."""
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M:%S"))
    ax.tick_params(axis="x", labelrotation=30)
    ax.set_xlabel("received at (UTC)")


def latest_book(depth: pd.DataFrame) -> pd.DataFrame:
    """The last push's levels of a depth DataFrame (rows sharing the newest ``received_at``)."""
    if depth.empty:
        return depth
    return depth[depth["received_at"] == depth["received_at"].iloc[-1]]


def book_summary(depth: pd.DataFrame) -> pd.DataFrame:
    """Per push: best bid, best ask, mid and spread, indexed by ``received_at``."""
    best = depth[depth["level"] == 0]
    wide = best.pivot_table(index="received_at", columns="side", values="price", aggfunc="first", observed=True)
    wide = wide.reindex(columns=["bid", "ask"])
    wide["mid"] = (wide["bid"] + wide["ask"]) / 2
    wide["spread"] = wide["ask"] - wide["bid"]
    return wide


def draw_book(ax: Any, book: pd.DataFrame) -> None:
    """Cumulative bid and ask volume against price as step lines, on ``ax``."""
    ax.clear()
    for side, colour in (("bid", "#2a9d8f"), ("ask", "#e76f51")):
        levels = book[book["side"] == side].sort_values("level")
        if levels.empty:
            continue
        ax.step(levels["price"], np.cumsum(levels["volume"].to_numpy()), where="post", color=colour, label=side)
        ax.fill_between(levels["price"], np.cumsum(levels["volume"].to_numpy()), step="post", alpha=0.25, color=colour)
    ax.set_xlabel("price")
    ax.set_ylabel("cumulative volume")
    ax.legend(loc="upper center")


def plot_depth(depth: pd.DataFrame, title: str | None = None) -> Figure:
    """The latest order book as cumulative depth, with mid price and spread over time beneath."""
    fig = Figure(figsize=(8, 6), layout="constrained")
    top, mid = fig.subplots(2, 1, height_ratios=[2, 1])
    book = latest_book(depth)
    draw_book(top, book)
    symbol = str(book["symbol"].iloc[0]) if not book.empty else ""
    top.set_title(title or f"{symbol} order book depth")
    summary = book_summary(depth) if not depth.empty else pd.DataFrame(columns=["mid", "spread"])
    mid.plot(summary.index, summary["mid"], color="#264653", label="mid")
    mid.set_ylabel("mid")
    spread_ax = mid.twinx()
    spread_ax.plot(summary.index, summary["spread"], color="#f4a261", label="spread")
    spread_ax.set_ylabel("spread")
    mid.legend(handles=[*mid.get_lines(), *spread_ax.get_lines()], loc="upper left", fontsize="small")
    time_axis(mid)
    return fig


def latest_pairs(v3: pd.DataFrame) -> pd.DataFrame:
    """The last push's pairs of a ``pair_index_v3`` DataFrame."""
    if v3.empty:
        return v3
    return v3[v3["received_at"] == v3["received_at"].iloc[-1]]


def draw_pair_weights(ax: Any, pairs: pd.DataFrame) -> None:
    """Each exchange pair's weight as a horizontal bar coloured by pair status, on ``ax``."""
    ax.clear()
    pairs = pairs.dropna(subset=["exchange"])
    labels = [f"{e} {p}" for e, p in zip(pairs["exchange"], pairs["pair_symbol"])]
    statuses = [PAIR_STATUS.get(int(s), ("other", "#6c757d")) for s in pairs["pair_status"]]
    ax.barh(labels, pairs["pair_weight"], color=[c for _, c in statuses])
    for row, ((text, colour), weight) in enumerate(zip(statuses, pairs["pair_weight"])):
        if not weight:  # a zero-width bar shows nothing: say why the pair has no weight
            ax.text(0.002, row, text.split(" (")[0], va="center", color=colour, fontweight="bold")
    ax.invert_yaxis()
    ax.set_xlabel("pair weight")
    ax.legend(
        handles=[Patch(color=c, label=f"{k}: {t}") for k, (t, c) in PAIR_STATUS.items()],
        loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=1, fontsize="small", frameon=False,
    )


def plot_pair_weights(v3: pd.DataFrame, title: str | None = None) -> Figure:
    """The latest v3 pair weight breakdown beside the index price over time."""
    fig = Figure(figsize=(11, 5.5), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[3, 2])
    pairs = latest_pairs(v3)
    draw_pair_weights(left, pairs)
    name = f"{pairs['underlying_symbol'].iloc[0]}/{pairs['quote_symbol'].iloc[0]}" if not pairs.empty else ""
    left.set_title(title or f"{name} v3 pair weights")
    prices = v3.drop_duplicates("received_at")
    right.plot(prices["received_at"], prices["price"], color="#264653")
    right.set_title("index price")
    time_axis(right)
    return fig
