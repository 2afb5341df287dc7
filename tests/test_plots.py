"""The static charts on collected DataFrames: what they draw matches the data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

import nexusdata as nd
from nexusdata.demo import run_demo
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


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's width and height in pixels, from its header."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


# An IPython shell with pyplot's inline backend on and a plt.show() behind it (as notebooks 02 and
# 03 have), then a static chart displayed: what the notebook receives, as "width height shown".
AFTER_PLT_SHOW = """
import base64, sys
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import display
from IPython.utils.capture import capture_output
import matplotlib
from matplotlib_inline.backend_inline import configure_inline_support
import pandas as pd
import nexusdata as nd

shell = InteractiveShell.instance()
matplotlib.use("module://matplotlib_inline.backend_inline")
configure_inline_support(shell, "module://matplotlib_inline.backend_inline")  # what %matplotlib inline does
import matplotlib.pyplot as plt
plt.plot([1, 2])
with capture_output():
    plt.show()
depth = pd.read_parquet(sys.argv[1])
for fig in (nd.plot_depth(depth), nd.plot_depth_heatmap(depth)):
    with capture_output() as captured:
        display(fig)
    (output,) = captured.outputs
    png = base64.b64decode(output.data["image/png"])
    shown = output.metadata["image/png"]
    print(int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big"), shown["width"], shown["height"])
"""


def test_static_charts_keep_twice_their_pixels_once_pyplot_has_shown(depth: pd.DataFrame, tmp_path: Path) -> None:
    """pyplot's inline backend registers a PNG formatter for every matplotlib figure, which came
    before the chart's own and drew it at 1x, trimmed (731x611 for 1440x1200)."""
    depth.to_parquet(tmp_path / "depth.parquet")
    done = subprocess.run(
        [sys.executable, "-c", AFTER_PLT_SHOW, str(tmp_path / "depth.parquet")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split("\n")[:2] == ["1440 1200 720 600", "1800 1000 900 500"], done.stdout + done.stderr


def test_the_demo_writes_its_charts_at_twice_their_size(tmp_path: Path) -> None:
    files = run_demo(tmp_path, seconds=1.0, echo=lambda line: None)
    assert png_size(files["depth_chart"].read_bytes()) == (1440, 1200)
    assert png_size(files["pair_weights_chart"].read_bytes()) == (1920, 1040)
