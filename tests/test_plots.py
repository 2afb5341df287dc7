"""The static charts on collected DataFrames: what they draw matches the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

import nexusdata as nd
from nexusdata.frames import latest_push
from nexusdata.plots import PAIR_STATUS, book_summary, index_prices, png
from nexusdata.sim import Simulator


@pytest.fixture(scope="module")
def depth(sim: Simulator) -> pd.DataFrame:
    return nd.stream_depth("BTCUSDT", seconds=10, depth=5, max_messages=12, **sim.nexus)


@pytest.fixture(scope="module")
def v3(sim: Simulator) -> pd.DataFrame:
    return nd.collect_index("pair_index_v3", "1", seconds=10, max_messages=12, **sim.chainext)


def test_book_summary_is_best_prices_per_push(depth: pd.DataFrame) -> None:
    summary = book_summary(depth)
    assert len(summary) == 12 and summary.index.is_unique
    for received_at, push in depth.groupby("received_at"):
        best = push[push["level"] == 0].set_index("side")["price"]
        row = summary.loc[received_at]
        assert (row["bid"], row["ask"]) == (best["bid"], best["ask"])
        assert row["mid"] == pytest.approx((best["bid"] + best["ask"]) / 2)
        assert row["spread"] == pytest.approx(best["ask"] - best["bid"]) and row["spread"] > 0


def test_plot_depth_draws_the_latest_book_and_the_series(depth: pd.DataFrame) -> None:
    fig = nd.plot_depth(depth)
    book_ax, mid_ax, spread_ax = fig.axes
    book = latest_push(depth)
    lines = {line.get_label(): line for line in book_ax.get_lines()}
    assert set(lines) == {"bid", "ask"}
    for side, line in lines.items():
        levels = book[book["side"] == side].sort_values("level")
        x, y = line.get_data()
        assert list(x) == list(levels["price"])
        assert np.allclose(y, np.cumsum(levels["volume"]))  # cumulative volume, best level first
    assert "BTCUSDT" in book_ax.get_title()
    summary = book_summary(depth)
    assert np.allclose(mid_ax.get_lines()[0].get_ydata(), summary["mid"])
    assert np.allclose(spread_ax.get_lines()[0].get_ydata(), summary["spread"])
    assert png(fig).startswith(b"\x89PNG")
    picture, size = fig._repr_png_()  # drawn at twice the size it is shown at: sharp on any screen
    assert picture.startswith(b"\x89PNG") and size == {"width": 720, "height": 600}
    assert picture[16:24] == (1440).to_bytes(4, "big") + (1200).to_bytes(4, "big")  # the PNG header's width and height


def test_plot_pair_weights_colours_pairs_by_status(v3: pd.DataFrame) -> None:
    fig = nd.plot_pair_weights(v3, title="weights")
    weights_ax, price_ax = fig.axes
    pairs = latest_push(v3)
    bars = weights_ax.patches
    assert len(bars) == len(pairs)
    for bar, (_, pair) in zip(bars, pairs.iterrows()):
        assert bar.get_width() == pytest.approx(pair["pair_weight"])
        assert to_hex(bar.get_facecolor()) == PAIR_STATUS[int(pair["pair_status"])][1]
    zero = [row for row, weight in enumerate(pairs["pair_weight"]) if not weight > 0]
    assert [y for _, y in weights_ax.collections[0].get_offsets()] == zero  # a marker where a bar has no width
    (figure_legend,) = fig.legends
    legend = [t.get_text() for t in figure_legend.get_texts()]
    assert legend == [f"{code}: {meaning}" for code, (meaning, _) in PAIR_STATUS.items()]
    assert weights_ax.get_title() == "weights"
    assert np.allclose(price_ax.get_lines()[0].get_ydata(), index_prices(v3)["price"])
    assert len(price_ax.get_lines()[0].get_ydata()) == 12


def test_empty_frames_draw_empty_charts(depth: pd.DataFrame, v3: pd.DataFrame) -> None:
    for fig in (nd.plot_depth(depth.iloc[:0]), nd.plot_pair_weights(v3.iloc[:0])):
        assert png(fig).startswith(b"\x89PNG")
        assert not any(line.get_xydata().size for ax in fig.axes for line in ax.get_lines())
