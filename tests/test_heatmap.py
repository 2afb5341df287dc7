"""The order-book heatmap (``nd.plot_depth_heatmap``, ``nexusdata.heatmap``): grids computed by
hand on small books typed by the collectors' own buffer (the last push in a column wins, empty
columns carry the book forward, NaN before the first push, levels in one price bin add up, a fixed
price range drops what is outside), the same grid as a plain loop computes on a collected frame,
and what the chart draws. Bad arguments are in test_bad_input.py."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.dates import date2num
from matplotlib.figure import Figure

import nexusdata as nd
from nexusdata.frames import TableBuffer
from nexusdata.heatmap import Grid, draw_depth_heatmap, volume_grid
from nexusdata.plots import SIDE_COLOURS, book_summary, png
from nexusdata.protocol import tables
from nexusdata.sim import Simulator

T0 = 1_700_000_000_000_000_000  # ns: 2023-11-14 22:13:20 UTC
SECOND = 1_000_000_000
NAN = float("nan")

Book = tuple[list[tuple[str, Any]], list[tuple[str, Any]]]  # (bids, asks), each level (price, volume)


def depth_of(pushes: list[tuple[int, Book]], symbol: str = "BTCUSDT") -> pd.DataFrame:
    """The depth DataFrame a collector returns for ``pushes`` (ns after T0, book), typed by its buffer."""
    buffer = TableBuffer(tables.DEPTH)
    for after, (bids, asks) in pushes:
        side = {
            key: [{"price": p, "volume": v, "cp": "b2c2", "time": T0 // 1_000_000} for p, v in levels]
            for key, levels in (("bids", bids), ("asks", asks))
        }
        buffer.extend([orjson.dumps({"event": "API_MARKETDEPTH", "data": {"symbol": symbol, **side}})], T0 + after, 1)
    return buffer.dataframe()


def at(*seconds: float) -> np.ndarray:
    return np.array([T0 + round(s * SECOND) for s in seconds], dtype="datetime64[ns]")


# three books a second apart: two bids in one price bin, a NaN volume, a book that moved down
THREE = depth_of(
    [
        (0, ([("99", "1"), ("96", "2")], [("101", "4")])),
        (SECOND, ([("98", "5")], [("102", "1"), ("104", "2")])),
        (2 * SECOND, ([("94", "1")], [("106", None)])),
    ]
)
BINS = {"prices": (90, 110), "price_bins": 4}  # [90, 95), [95, 100), [100, 105), [105, 110]


def test_one_column_per_push_levels_in_one_price_bin_add_and_nan_volume_is_zero() -> None:
    grid = volume_grid(THREE, **BINS)
    assert THREE["received_at"].dtype == "datetime64[ns, UTC]" and THREE["side"].dtype == "category"
    np.testing.assert_array_equal(grid.times, at(0, 1, 2, 3))  # the last column as wide as the mean gap
    np.testing.assert_array_equal(grid.prices, [90, 95, 100, 105, 110])
    expected = [
        [0, 0, 1],  # 94
        [3, 5, 0],  # 99 + 96; 98
        [4, 3, 0],  # 101; 102 + 104
        [0, 0, 0],  # 106 of unknown volume
    ]
    np.testing.assert_array_equal(grid.volume, expected)
    np.testing.assert_array_equal(grid.best.times, at(0, 1, 2))
    np.testing.assert_array_equal(grid.best.bid, [99, 98, 94])
    np.testing.assert_array_equal(grid.best.ask, [101, 102, 106])
    assert grid.symbol == "BTCUSDT"


def test_the_last_push_in_a_column_wins_and_an_empty_column_keeps_the_book() -> None:
    # columns of a second from T0: pushes at 0.2 s and 0.7 s share the first, none in the second
    depth = depth_of(
        [
            (SECOND // 5, ([("99", "1")], [("101", "1")])),
            (7 * SECOND // 10, ([("98", "2")], [("102", "3")])),
            (5 * SECOND // 2, ([("94", "4")], [("106", "5")])),
        ]
    )
    grid = volume_grid(depth, times=(pd.Timestamp(T0, tz="UTC"), pd.Timestamp(T0 + 4 * SECOND, tz="UTC")), time_bins=4, **BINS)
    np.testing.assert_array_equal(grid.times, at(0, 1, 2, 3, 4))
    expected = [
        [0, 0, 4, 4],
        [2, 2, 0, 0],  # the push at 0.7 s, not the one at 0.2 s; then carried into the empty second column
        [3, 3, 0, 0],
        [0, 0, 5, 5],
    ]
    np.testing.assert_array_equal(grid.volume, expected)
    np.testing.assert_array_equal(grid.best.bid, [99, 98, 94])  # every push, shown or not


def test_nan_before_the_first_push_and_pushes_from_the_end_on_are_left_out() -> None:
    naive = (pd.Timestamp(T0 - 2 * SECOND), pd.Timestamp(T0 + 2 * SECOND))  # naive times are UTC
    grid = volume_grid(THREE, times=naive, time_bins=4, **BINS)
    np.testing.assert_array_equal(grid.times, at(-2, -1, 0, 1, 2))
    assert np.isnan(grid.volume[:, :2]).all()  # no book known yet
    np.testing.assert_array_equal(grid.volume[:, 2:], [[0, 0], [3, 5], [4, 3], [0, 0]])
    np.testing.assert_array_equal(grid.best.times, at(0, 1))  # the push at 2 s is the end: left out
    # a push before the start is the book at the start
    later = volume_grid(THREE, times=(pd.Timestamp(T0 + SECOND // 2), pd.Timestamp(T0 + 3 * SECOND // 2)), time_bins=1, **BINS)
    np.testing.assert_array_equal(later.volume[:, 0], [0, 5, 3, 0])  # the push at 1 s, last before the column's end


def test_more_pushes_than_time_bins_give_equal_columns_each_showing_its_last_push() -> None:
    five = depth_of([(i * SECOND, ([(str(90 + i), str(i + 1))], [])) for i in range(5)])
    grid = volume_grid(five, time_bins=2, prices=(90, 100), price_bins=10)
    np.testing.assert_array_equal(grid.times, at(0, 2.5, 5))  # 5 pushes a second apart, and one more second
    assert grid.volume[2, 0] == 3 and grid.volume[4, 1] == 5  # the pushes at 2 s and 4 s
    assert np.nansum(grid.volume) == 8


def test_a_fixed_price_range_drops_the_levels_outside_it() -> None:
    depth = depth_of([(0, ([("99", "1"), ("96", "2")], [("101", "4"), ("103", "8"), ("103.5", "16")]))])
    grid = volume_grid(depth, prices=(97, 103), price_bins=3)  # [97, 99), [99, 101), [101, 103]
    np.testing.assert_array_equal(grid.volume[:, 0], [0, 1, 12])  # 96 and 103.5 dropped; 103 in the last bin
    np.testing.assert_array_equal(grid.prices, [97, 99, 101, 103])


def test_the_default_price_range_is_the_prices_span_with_a_margin() -> None:
    grid = volume_grid(THREE, price_bins=24)
    assert grid.prices[0] == pytest.approx(94 - 0.24) and grid.prices[-1] == pytest.approx(106 + 0.24)
    assert np.nansum(grid.volume[:, 0]) == 7 and np.nansum(grid.volume[:, 1]) == 8


def test_rows_in_any_order_give_the_same_grid() -> None:
    shuffled = THREE.sample(frac=1, random_state=3)
    a, b = volume_grid(THREE, **BINS), volume_grid(shuffled, **BINS)
    np.testing.assert_array_equal(a.volume, b.volume)
    np.testing.assert_array_equal(a.best.bid, b.best.bid)
    np.testing.assert_array_equal(a.best.ask, b.best.ask)


def test_a_one_sided_book_has_no_line_on_the_other_side() -> None:
    bids_only = depth_of([(0, ([("99", "1"), ("98", "2")], [])), (SECOND, ([("98", "3")], []))])
    grid = volume_grid(bids_only, **BINS)
    np.testing.assert_array_equal(grid.volume, [[0, 0], [3, 3], [0, 0], [0, 0]])
    assert np.isnan(grid.best.ask).all() and list(grid.best.bid) == [99, 98]
    fig = nd.plot_depth_heatmap(bids_only)
    assert png(fig).startswith(b"\x89PNG")


def test_symbol_picks_one_of_several() -> None:
    both = pd.concat([THREE, depth_of([(SECOND // 2, ([("50", "7")], [("51", "1")]))], symbol="ETHUSDT")], ignore_index=True)
    both["symbol"] = both["symbol"].astype("category")
    eth = volume_grid(both, symbol="ETHUSDT", prices=(40, 60), price_bins=2)
    assert eth.symbol == "ETHUSDT" and list(eth.best.bid) == [50] and eth.volume.tolist() == [[0], [8]]
    btc = volume_grid(both, symbol="BTCUSDT", **BINS)
    np.testing.assert_array_equal(btc.volume, volume_grid(THREE, **BINS).volume)
    fig = nd.plot_depth_heatmap(both, symbol="ETHUSDT")
    assert fig.axes[0].get_title() == "ETHUSDT order book heatmap"


def test_the_chart_draws_the_grid_the_best_prices_and_a_labelled_colorbar() -> None:
    fig = nd.plot_depth_heatmap(THREE, price_bins=4)
    ax, colorbar_ax = fig.axes
    grid = volume_grid(THREE, price_bins=4)
    (image,) = ax.get_images()
    np.testing.assert_array_equal(image.get_array().filled(np.nan), grid.volume)
    assert image.get_extent() == pytest.approx([*date2num(grid.times[[0, -1]]), grid.prices[0], grid.prices[-1]])
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"best bid", "best ask"}
    for side, line in (("bid", lines["best bid"]), ("ask", lines["best ask"])):
        level0 = THREE[(THREE["side"] == side) & (THREE["level"] == 0)]
        x, y = line.get_data()
        # the level-0 prices at their pushes' times, then stepping on to the grid's end
        assert list(y) == [*level0["price"], level0["price"].iloc[-1]]
        assert list(x) == pytest.approx(
            [*date2num(level0["received_at"].dt.tz_convert(None).to_numpy()), date2num(grid.times[-1])]
        )
        assert line.get_drawstyle() == "steps-post" and to_hex(line.get_color()) == SIDE_COLOURS[side]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["best bid", "best ask"]
    assert colorbar_ax.get_ylabel() == "resting volume"
    assert ax.get_ylabel() == "price" and ax.get_title() == "BTCUSDT order book heatmap"
    assert png(fig).startswith(b"\x89PNG") and fig._repr_png_()[0].startswith(b"\x89PNG")
    assert nd.plot_depth_heatmap(THREE, "my title").axes[0].get_title() == "my title"


def test_an_empty_frame_draws_an_empty_chart() -> None:
    fig = nd.plot_depth_heatmap(THREE.iloc[:0])
    assert png(fig).startswith(b"\x89PNG")
    assert "no data" in fig.axes[0].get_title()
    assert not any(line.get_xydata().size for line in fig.axes[0].get_lines())
    empty = volume_grid(THREE.iloc[:0])
    assert empty.volume.size == 0 and not len(empty.times) and not len(empty.best.times)
    window = volume_grid(THREE.iloc[:0], times=(pd.Timestamp(T0), pd.Timestamp(T0 + 3 * SECOND)), time_bins=3, **BINS)
    assert window.volume.shape == (4, 3) and np.isnan(window.volume).all()  # a fixed window with no book in it


def test_update_shows_a_new_grid_on_the_same_artists() -> None:
    """What a live chart does on each redraw: no artist is made again."""
    ax = Figure(layout="constrained").add_subplot()
    artists = draw_depth_heatmap(ax, volume_grid(THREE.iloc[:0]))
    grid = volume_grid(THREE, **BINS)
    artists.update(grid)
    assert ax.get_images() == [artists.image] and ax.get_lines() == [artists.bid, artists.ask]
    np.testing.assert_array_equal(artists.image.get_array().filled(np.nan), grid.volume)
    assert artists.image.get_clim() == (0, 5) and artists.colorbar.mappable is artists.image
    assert list(artists.bid.get_ydata()) == [99, 98, 94, 94]
    assert ax.get_ylim() == (90, 110) and ax.get_title() == "BTCUSDT order book heatmap"


def test_import_nexusdata_loads_the_heatmap_on_first_use() -> None:
    probe = "import sys, nexusdata as nd; a = 'nexusdata.heatmap' in sys.modules; nd.plot_depth_heatmap; print(a, 'nexusdata.heatmap' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False True"
    assert "plot_depth_heatmap" in nd.__all__


# -- a collected frame: the grid as a plain loop computes it ------------------------------------------


@pytest.fixture(scope="module")
def collected(sim: Simulator) -> pd.DataFrame:
    return nd.stream_depth("BTCUSDT", seconds=10, max_messages=20, **sim.nexus)


def loop_grid(depth: pd.DataFrame, grid: Grid) -> np.ndarray:
    """The grid's volume computed the slow way: for each column, the last push before its end,
    its levels' volume summed into the price bins."""
    pushes = [(t, push) for t, push in depth.groupby("received_at", sort=True)]
    ends = grid.times[1:]
    columns = []
    for end in ends:
        before = [push for t, push in pushes if t.tz_convert(None).to_datetime64() < end]
        if not before:
            columns.append(np.full(len(grid.prices) - 1, np.nan))
            continue
        book = before[-1]
        counts, _ = np.histogram(book["price"], bins=grid.prices, weights=book["volume"].fillna(0))
        columns.append(counts)
    return np.array(columns).T


def test_a_collected_frame_last_column_holds_the_last_push(collected: pd.DataFrame) -> None:
    assert collected["received_at"].nunique() == 20
    grid = volume_grid(collected)
    last = collected[collected["received_at"] == collected["received_at"].iloc[-1]]
    assert np.nansum(grid.volume[:, -1]) == pytest.approx(last["volume"].sum())
    assert grid.volume.shape == (120, 20)
    summary = book_summary(collected)
    np.testing.assert_array_equal(grid.best.bid, summary["bid"])
    np.testing.assert_array_equal(grid.best.ask, summary["ask"])
    assert png(nd.plot_depth_heatmap(collected)).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "options",
    [{}, {"time_bins": 7, "price_bins": 13}, {"prices": "middle"}, {"times": "window", "time_bins": 9}],
    ids=["default", "coarse", "narrow_prices", "time_window"],
)
def test_a_collected_frame_gives_the_grid_a_plain_loop_computes(collected: pd.DataFrame, options: dict[str, Any]) -> None:
    low, high = collected["price"].quantile([0.3, 0.7])
    received = collected["received_at"]
    window = (received.iloc[0] + (received.iloc[-1] - received.iloc[0]) / 3, received.iloc[-1] + pd.Timedelta("10ms"))
    options = {**options, **({"prices": (low, high)} if "prices" in options else {})}
    options = {**options, **({"times": window} if "times" in options else {})}
    grid = volume_grid(collected, **options)
    np.testing.assert_allclose(grid.volume, loop_grid(collected, grid), equal_nan=True)
