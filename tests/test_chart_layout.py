"""The live charts' figures as drawn (``nexusdata.animation``, ``nexusdata.plots``,
``nexusdata.heatmap``): axis limits that follow the data with hysteresis on a clock the test
moves; the layout of the first push and of every set of pairs, measured on the drawn text's
extents, not on pixels; blitting that redraws only what changes and draws what a full draw
would; the heatmap's cells painted where matplotlib's own image would put them.

Frames are collected once per module from the simulator; the pair cases are built from them by
hand. No sleeps: every time is a number handed to ``fit`` or ``draw``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.backend_bases import RendererBase
from matplotlib.text import Text
from matplotlib.transforms import Bbox

import nexusdata as nd
from nexusdata.animation import Animation
from nexusdata.heatmap import HEATMAP_CHART, HeatmapScene
from nexusdata.plots import (
    DEPTH_CHART,
    LABEL_CHARACTERS,
    PAIR_WEIGHTS_CHART,
    WAITING,
    Chart,
    DepthScene,
    PairWeightsScene,
    Range,
    Window,
    nice_step,
)
from nexusdata.sim import Simulator

# ---------------------------------------------------------------------------------------------
# Range and Window, on a clock the test moves


def test_range_expands_at_once_with_its_margin_when_data_leaves_it() -> None:
    limits = Range(margin=0.25)
    assert limits.fit(0.0, 10.0, now=0.0) == (-2.5, 12.5)  # the first data: a quarter of its span each side
    assert limits.fit(1.0, 12.0, now=0.1) == (-2.5, 12.5)  # inside: unchanged
    assert limits.fit(-5.0, 10.0, now=0.2) == (-8.75, 13.75)  # out below: at once, padded by a quarter of 15
    # out above: at once, padded by a quarter of the limits' span (22.5), larger than the data's (20):
    # data drifting out meets limits growing geometrically; the bottom stays
    assert limits.fit(0.0, 20.0, now=0.3) == (-8.75, 25.625)


def test_range_expanding_on_one_side_keeps_the_other() -> None:
    """Data that leaves on one side widens that side only: the other shrinks with patience, like
    any shrink. Refitting both sides to the newest data made noisy data that moves up and down
    (a sliding window of prices) flip the limits back and forth, a full redraw each time."""
    limits = Range(margin=0.25)
    assert limits.fit(0.0, 10.0, now=0.0) == (-2.5, 12.5)
    # out below: the bottom to the data's, padded by a quarter of the limits' span (15); the top kept
    assert limits.fit(-5.0, 5.0, now=0.1) == (-8.75, 12.5)
    for now in (0.2, 0.3, 0.4):
        assert limits.fit(0.0, 10.0, now) == (-8.75, 12.5)  # up again: inside
        assert limits.fit(-5.0, 5.0, now + 0.05) == (-8.75, 12.5)  # and down again: inside


def test_range_does_not_shrink_while_the_data_is_still_wide() -> None:
    limits = Range(margin=0.25, shrink=0.4, patience=5.0)
    first = limits.fit(0.0, 10.0, now=0.0)
    # padded (1, 9) spans 12, not under 0.4 of the limits' 15: never tight, however long it lasts
    for now in (1.0, 10.0, 100.0, 1000.0):
        assert limits.fit(1.0, 9.0, now) == first


def test_range_shrinks_only_after_patience_seconds_of_tight_data() -> None:
    limits = Range(margin=0.25, shrink=0.4, patience=5.0)
    wide = limits.fit(0.0, 10.0, now=0.0)  # (-2.5, 12.5), span 15
    tight = (3.75, 5.25)  # (4, 5) padded: span 1.5, under 0.4 × 15
    assert limits.fit(4.0, 5.0, now=1.0) == wide  # tight from now on
    assert limits.fit(4.0, 5.0, now=5.9) == wide  # 4.9 s: not yet
    assert limits.fit(4.0, 5.0, now=6.0) == tight  # 5 s: shrunk to the data, with its margin
    assert limits.fit(4.0, 5.0, now=20.0) == tight  # and it stays


def test_range_shrink_timer_restarts_when_the_data_widens_meanwhile() -> None:
    limits = Range(margin=0.25, shrink=0.4, patience=5.0)
    wide = limits.fit(0.0, 10.0, now=0.0)
    assert limits.fit(4.0, 5.0, now=1.0) == wide  # tight since 1
    assert limits.fit(0.0, 10.0, now=4.0) == wide  # wide again (inside the limits): the timer stops
    assert limits.fit(4.0, 5.0, now=5.0) == wide  # tight again, since 5
    assert limits.fit(4.0, 5.0, now=9.0) == wide  # 8 s after the first tight data, 4 s after the second: not yet
    assert limits.fit(4.0, 5.0, now=10.0) == (3.75, 5.25)  # 5 s of tight data in a row


def test_range_with_zero_keeps_zero_as_its_lower_limit() -> None:
    limits = Range(margin=0.1, zero=True, patience=5.0)
    wide = limits.fit(5.0, 10.0, now=0.0)
    assert wide[0] == 0.0 and wide == pytest.approx((0.0, 10.5))  # 0 below, the margin above only
    assert limits.fit(1.0, 2.0, now=1.0) == wide  # tight (0 to 2.1 is under 0.4 of 10.5), not yet shrunk
    shrunk = limits.fit(1.0, 2.0, now=6.0)
    assert shrunk[0] == 0.0 and shrunk == pytest.approx((0.0, 2.1))  # shrunk, still from 0
    assert limits.fit(0.0, 0.0, now=7.0) == shrunk  # all zeros: inside, kept
    assert Range(zero=True).fit(0.0, 0.0, now=0.0)[1] > 0.0  # a fresh range of zeros still has a span


@pytest.mark.parametrize("low, high", [(math.nan, math.nan), (math.nan, 5.0), (1.0, math.inf), (-math.inf, math.nan)])
def test_range_keeps_its_limits_for_data_without_finite_extent(low: float, high: float) -> None:
    fresh = Range()
    assert fresh.fit(low, high, now=0.0) == (0.0, 1.0)  # nothing known yet: a default span
    assert fresh.limits is None  # and nothing learnt from it
    limits = Range(margin=0.25)
    before = limits.fit(0.0, 10.0, now=0.0)
    assert limits.fit(low, high, now=1.0) == before
    assert limits.fit(low, high, now=100.0) == before  # no shrink by NaN either


def test_range_of_an_empty_series_keeps_the_old_limits() -> None:
    """What a scene hands ``fit`` for a series with no finite value: the extent of nothing."""
    from nexusdata.plots import extent

    limits = Range()
    before = limits.fit(-1.0, 1.0, now=0.0)
    assert limits.fit(*extent(np.empty(0)), now=1.0) == before
    assert limits.fit(*extent(np.array([math.nan, math.nan])), now=100.0) == before


@pytest.mark.parametrize("value", [0.0, 100.0, -5.0, 48_000.0, 1e-6])
def test_range_of_a_zero_span_has_a_nonzero_span(value: float) -> None:
    low, high = Range(margin=0.25).fit(value, value, now=0.0)
    assert low < value < high
    assert high - low > 0 and math.isfinite(high - low)


@pytest.mark.parametrize(
    "span, step",
    [(0.3, 0.5), (1.0, 1.0), (1.2, 2.0), (7.0, 10.0), (0.001, 0.01), (0.2, 0.2), (2.0, 2.0), (5.0, 5.0), (51.0, 100.0)],
)
def test_nice_step_is_the_smallest_1_2_5_step_holding_the_span(span: float, step: float) -> None:
    assert nice_step(span) == pytest.approx(step)
    assert nice_step(span) >= span * (1 - 1e-9)


def test_window_grows_at_once_and_shrinks_after_patience_to_at_most_a_quarter() -> None:
    window = Window(patience=5.0, least=0.01)
    assert window.fit(0.3, now=0.0) == 0.5
    assert window.fit(0.7, now=0.1) == pytest.approx(1.0)  # more than the window: at once
    assert window.fit(3.0, now=0.2) == pytest.approx(5.0)
    # 3.0 s of data in 5 s: its step (5) is not at most a quarter of the window, so never tighter;
    # nor is 1.5 s (step 2): a span wavering around a step must not flip the window
    assert window.fit(3.0, now=100.0) == pytest.approx(5.0)
    assert window.fit(1.5, now=100.5) == pytest.approx(5.0)
    assert window.fit(1.5, now=100.8) == pytest.approx(5.0)
    assert window.fit(0.6, now=101.0) == pytest.approx(5.0)  # its step (1) is at most a quarter: tight since 101
    assert window.fit(0.6, now=104.0) == pytest.approx(5.0)
    assert window.fit(3.0, now=105.0) == pytest.approx(5.0)  # wide again: the timer stops
    assert window.fit(0.6, now=106.0) == pytest.approx(5.0)  # tight since 106
    assert window.fit(0.6, now=110.9) == pytest.approx(5.0)  # 4.9 s: not yet
    shrunk = window.fit(0.6, now=111.0)
    assert shrunk == pytest.approx(1.0)  # the data's own step
    assert shrunk <= 5.0 / 4


def test_window_is_a_second_at_least() -> None:
    window = Window()
    assert window.fit(0.0, now=0.0) == 1.0  # one push
    assert window.fit(0.3, now=0.1) == 1.0
    assert window.fit(1.3, now=0.2) == pytest.approx(2.0)


# ---------------------------------------------------------------------------------------------
# frames from the simulator, and pair pushes built from them


@pytest.fixture(scope="module")
def depth(sim: Simulator) -> pd.DataFrame:
    return nd.stream_depth("BTCUSDT", seconds=10, max_messages=60, **sim.nexus)


@pytest.fixture(scope="module")
def v3(sim: Simulator) -> pd.DataFrame:
    return nd.collect_index("pair_index_v3", "1", seconds=10, max_messages=30, **sim.chainext)


def pushes(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """``frame``'s pushes, oldest first (a push's rows share one ``received_at``)."""
    return [push for _, push in frame.groupby("received_at", sort=True, observed=True)]


def pair_push(v3: pd.DataFrame, exchanges: list[str]) -> pd.DataFrame:
    """One ``pair_index_v3`` push of the pairs ``exchanges`` (with the collector's dtypes): the
    first row of ``v3`` repeated, weights spread over 0..0.3, statuses 1, 2, 3 in turn."""
    first = v3.iloc[[0] * len(exchanges)].reset_index(drop=True)
    first["exchange"] = pd.Categorical(exchanges)
    first["pair_weight"] = np.linspace(0.0, 0.3, len(exchanges))
    first["pair_status"] = np.resize(np.array([1, 2, 3], dtype="int16"), len(exchanges))
    return first


LONG = 45  # characters of a long exchange name


def long_names(count: int) -> list[str]:
    """``count`` distinct exchange names of :data:`LONG` characters, told apart by their start."""
    return [f"{i:02d}-exchange-with-a-very-long-name".ljust(LONG, "x") for i in range(count)]


# ---------------------------------------------------------------------------------------------
# layout: the text of a full draw, measured


@contextmanager
def drawn_texts() -> Iterator[list[Text]]:
    """The visible, non-empty texts matplotlib draws in the block, each once.

    ``figure.findobj(Text)`` also holds tick labels that are not drawn: an axis keeps its Tick
    objects (with their last text and position) for ticks outside its view limits, e.g. "0.002"
    right of a time axis that ends at 0.0002 s. Those would be measured outside the figure
    though nothing shows there; so the texts measured are those findobj lists that were drawn."""
    drawn: list[Text] = []
    original = Text.draw

    def draw(self: Text, renderer: RendererBase) -> Any:
        if self.get_visible() and self.get_text() and self not in drawn:
            drawn.append(self)
        return original(self, renderer)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Text, "draw", draw)
        yield drawn


def draw_measured(anim: Animation, rows: pd.DataFrame, now: float) -> list[Text]:
    """Draw ``rows`` in full (the draw must be a full one); the texts drawn, all of them from
    the figure's own texts (findobj), and each inside the figure."""
    full_draws = anim.full_draws
    with drawn_texts() as drawn:
        anim.draw(rows, None, now)
    assert anim.full_draws == full_draws + 1
    listed = set(anim.figure.findobj(Text))
    assert drawn and all(text in listed for text in drawn)
    assert_inside_figure(anim, drawn)
    return drawn


def assert_inside_figure(anim: Animation, texts: list[Text]) -> None:
    renderer = anim.canvas.get_renderer()
    width, height = anim.canvas.get_width_height(physical=True)
    outside = []
    for text in texts:
        box = text.get_window_extent(renderer=renderer)
        if box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1:
            outside.append((text.get_text(), [round(v) for v in box.extents]))
    assert not outside, f"text outside the {width}×{height} figure: {outside}"


def tick_labels(drawn: list[Text], axis: Any) -> list[Text]:
    """The drawn labels of ``axis``'s ticks (major), in the axis's order."""
    return [label for label in axis.get_ticklabels() if label in drawn]


NUMBER = re.compile(r"^[−-]?\d+(\.\d+)?$")  # matplotlib writes a minus as U+2212


def assert_well_formed_numbers(labels: list[Text]) -> None:
    texts = [label.get_text() for label in labels]
    assert len(texts) >= 2 and all(NUMBER.match(text) for text in texts), texts
    decimals = {len(text.partition(".")[2]) for text in texts}
    assert len(decimals) == 1, texts  # one format per axis: an "00" among "0.05", "0.10" would stand out
    values = [float(text.replace("−", "-")) for text in texts]
    assert values == sorted(values) and len(set(values)) == len(values), texts


PAIR_CASES: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {  # no pair at all: the next test
    "one pair": lambda v3: pair_push(v3, ["Coinbase"]),
    "20 pairs": lambda v3: pair_push(v3, [f"Exchange{i:02d}" for i in range(20)]),
    "20 long names": lambda v3: pair_push(v3, long_names(20)),
}


@pytest.mark.parametrize("case", PAIR_CASES)
def test_pair_weights_layout_from_the_first_push(v3: pd.DataFrame, case: str) -> None:
    rows = PAIR_CASES[case](v3)
    anim = Animation(PAIR_WEIGHTS_CHART)
    scene = anim.scene
    assert isinstance(scene, PairWeightsScene)
    drawn = draw_measured(anim, rows, now=0.0)  # every text inside the figure
    weights_ax, price_ax = anim.figure.axes
    renderer = anim.canvas.get_renderer()
    names = tick_labels(drawn, weights_ax.yaxis)
    assert [n.get_text() for n in names] == list(scene.pairs or ())
    assert len(names) == len(rows)
    assert_well_formed_numbers(tick_labels(drawn, weights_ax.xaxis))
    assert scene.waiting not in drawn
    assert f"{rows['underlying_symbol'].iat[0]}/{rows['quote_symbol'].iat[0]} v3 pair weights" == weights_ax.get_title()
    # the pair names: top to bottom in the push's order, none overlapping the next, all left of the bars
    boxes = [name.get_window_extent(renderer=renderer) for name in names]
    assert all(upper.y0 >= lower.y1 - 1 for upper, lower in zip(boxes, boxes[1:])), [(b.y0, b.y1) for b in boxes]
    frame = weights_ax.get_window_extent(renderer=renderer)
    assert all(box.x1 <= frame.x0 + 1 for box in boxes)
    assert all(len(name.get_text()) <= LABEL_CHARACTERS for name in names)
    if case == "20 long names":
        expected = [f"{name} {rows['pair_symbol'].iat[0]}"[: LABEL_CHARACTERS - 1] + "…" for name in long_names(20)]
        assert [n.get_text() for n in names] == expected
        assert len(set(expected)) == 20  # still told apart
        # the bars keep most of their axes' room: the names did not squeeze them
        assert frame.width > 0.25 * anim.figure.bbox.width
    assert price_ax.get_xlabel() == "seconds before the newest push"


def test_pair_chart_made_before_data_lays_out_again_with_the_pair_names(v3: pd.DataFrame) -> None:
    """The bug reported: pair names never appearing, and the weights axis showing "00" for
    "0.00". A chart made before the first push lays out again when the pairs arrive: the names
    are its tick labels, and every text (the weights' ticks included) is inside the figure."""
    anim = Animation(PAIR_WEIGHTS_CHART)
    scene = anim.scene
    assert isinstance(scene, PairWeightsScene)
    drawn = draw_measured(anim, v3.iloc[:0], now=0.0)  # no push: an empty frame of the table's columns
    assert scene.waiting in drawn and scene.waiting.get_text() == WAITING
    assert anim.caption == WAITING  # the header above the live chart says it too
    assert not tick_labels(drawn, anim.figure.axes[0].yaxis)
    assert_well_formed_numbers(tick_labels(drawn, anim.figure.axes[0].xaxis))
    assert anim.full_draws == 1
    drawn = draw_measured(anim, v3, now=0.5)  # a full draw again, every text inside the figure
    assert anim.full_draws == 2
    weights_ax, _ = anim.figure.axes
    newest = pushes(v3)[-1]
    names = [label.get_text() for label in tick_labels(drawn, weights_ax.yaxis)]
    assert names == [f"{e} {p}" for e, p in zip(newest["exchange"], newest["pair_symbol"])]
    xs = tick_labels(drawn, weights_ax.xaxis)
    assert_well_formed_numbers(xs)
    assert xs[0].get_text() in ("0.0", "0.00")  # the weights start at 0
    assert "waiting" not in " ".join(t.get_text() for t in drawn)


def test_depth_layout_while_waiting_then_with_data(depth: pd.DataFrame) -> None:
    anim = Animation(DEPTH_CHART)
    scene = anim.scene
    assert isinstance(scene, DepthScene)
    drawn = draw_measured(anim, depth.iloc[:0], now=0.0)
    assert scene.waiting in drawn and anim.caption == WAITING
    drawn = draw_measured(anim, depth, now=0.5)
    assert scene.waiting not in drawn
    assert anim.caption.startswith("BTCUSDT order book at ")
    book_ax, mid_ax, spread_ax = anim.figure.axes
    assert book_ax.get_title() == "BTCUSDT order book around the mid"
    for axis in (book_ax.xaxis, book_ax.yaxis, mid_ax.yaxis, spread_ax.xaxis, spread_ax.yaxis):
        assert_well_formed_numbers(tick_labels(drawn, axis))
    assert not tick_labels(drawn, mid_ax.xaxis)  # shared with the spread's, drawn once beneath
    mids = [float(t.get_text().replace("−", "-")) for t in tick_labels(drawn, mid_ax.yaxis)]
    assert min(mids) > 1000  # the mid in plain prices (BTC), not an offset or an exponent


@pytest.mark.parametrize("name", ["depth", "heatmap"])
def test_live_axes_start_from_the_data(name: str, depth: pd.DataFrame) -> None:
    """From the first push on, the time axis holds the pushes so far and little more (they fill
    40% of it at least, once they span more than its least second), and the depth chart's book
    axis is centred on the mid: no empty 90% of a panel, no lopsided price axis."""
    anim = Animation(BLIT_CHARTS[name], device_pixel_ratio=1.0)
    time_ax = anim.figure.axes[2 if name == "depth" else 0]
    first = depth["received_at"].iloc[0]
    slow = depth.assign(received_at=first + (depth["received_at"] - first) * 20)  # 1 push/0.4 s: the axis steps to 20 s
    parts = pushes(slow)
    for count in [*range(1, len(parts), 3), len(parts)]:  # every third push: the axis steps 1, 2, 5, 10, 20 s
        rows = pd.concat(parts[:count])
        anim.draw(rows, None, now=count * 0.05)  # the chart's clock: no patience runs out
        span = (rows["received_at"].iloc[-1] - rows["received_at"].iloc[0]).total_seconds()
        left, right = time_ax.get_xlim()
        assert right >= 0 and -left >= 1.0  # a second at least
        assert span <= -left and (span >= 0.4 * -left or -left == 1.0), (count, span, time_ax.get_xlim())
        if name == "depth":
            low, high = anim.figure.axes[0].get_xlim()
            assert low == pytest.approx(-high) and high > 0, (count, low, high)
    assert -time_ax.get_xlim()[0] >= 20  # the window grew with the data, step by step


def test_heatmap_layout_while_waiting_then_with_data(depth: pd.DataFrame) -> None:
    anim = Animation(HEATMAP_CHART)
    scene = anim.scene
    assert isinstance(scene, HeatmapScene)
    drawn = draw_measured(anim, depth.iloc[:0], now=0.0)
    assert scene.waiting in drawn and anim.caption == WAITING
    drawn = draw_measured(anim, depth, now=0.5)
    assert scene.waiting not in drawn
    ax, colorbar_ax = anim.figure.axes
    assert ax.get_title() == "BTCUSDT order book heatmap"
    assert "best bid" in anim.caption and "best ask" in anim.caption
    assert_well_formed_numbers(tick_labels(drawn, ax.xaxis))  # seconds before the newest push
    prices = tick_labels(drawn, ax.yaxis)
    assert_well_formed_numbers(prices)
    assert min(float(t.get_text()) for t in prices) > 1000
    assert_well_formed_numbers(tick_labels(drawn, colorbar_ax.yaxis))
    assert colorbar_ax.get_ylabel() == "resting volume"


# ---------------------------------------------------------------------------------------------
# blitting


def windows(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    """The frame's rows of ``size`` pushes at a time, sliding by one push."""
    parts = pushes(frame)
    return [pd.concat(parts[i : i + size]) for i in range(len(parts) - size + 1)]


BLIT_CHARTS = {"depth": DEPTH_CHART, "heatmap": HEATMAP_CHART, "pair_weights": PAIR_WEIGHTS_CHART}


@pytest.mark.parametrize("name", BLIT_CHARTS)
def test_settled_limits_redraw_by_blitting_and_blitting_draws_what_a_full_draw_does(
    name: str, depth: pd.DataFrame, v3: pd.DataFrame
) -> None:
    chart: Chart = BLIT_CHARTS[name]
    frame = v3 if chart is PAIR_WEIGHTS_CHART else depth
    sliding = windows(frame, 6)[:8]
    anim = Animation(chart, device_pixel_ratio=1.0)  # what is compared does not depend on the resolution
    now = 0.0
    for rows in sliding:  # the limits settle on the data's extent
        anim.draw(rows, None, now)
        now += 0.05
    settled, frames = anim.full_draws, anim.frames
    previous = np.asarray(anim.canvas.buffer_rgba()).copy()
    changed = 0
    for rows in sliding:  # the same pushes again, within the limits and well before any patience runs out
        anim.draw(rows, None, now)
        now += 0.05
        pixels = np.asarray(anim.canvas.buffer_rgba()).copy()
        changed += not np.array_equal(pixels, previous)
        previous = pixels
    assert anim.frames == frames + len(sliding)
    assert anim.full_draws == settled  # no full draw: every frame by blitting
    assert changed >= len(sliding) - 1  # and the frames did move (a frozen chart would blit nothing)

    # the last frame, blitted, against a full draw of the same state at the same time
    blitted = previous
    anim._background = None  # forces the full draw
    anim.draw(sliding[-1], None, now - 0.05)
    assert anim.full_draws == settled + 1
    full = np.asarray(anim.canvas.buffer_rgba()).copy()
    # Identical, pixel for pixel: the saved background holds the static artists of the same
    # layout key, and both paths then paint and draw the same animated artists over it (Agg
    # draws deterministically), so nothing may differ, not even antialiasing.
    differ = (blitted != full).any(axis=2)
    assert not differ.any(), f"{differ.sum()} of {differ.size} pixels differ"
    if chart is PAIR_WEIGHTS_CHART:
        a_new_set_of_pairs_costs_exactly_one_full_draw(anim, sliding, now)


def a_new_set_of_pairs_costs_exactly_one_full_draw(anim: Animation, sliding: list[pd.DataFrame], now: float) -> None:
    settled = anim.full_draws
    newest = pushes(sliding[-1])[-1]
    exchange, symbol = str(newest["exchange"].iloc[-1]), str(newest["pair_symbol"].iloc[-1])
    renamed = [rows.assign(exchange=rows["exchange"].cat.rename_categories({exchange: "Renamed"})) for rows in sliding]
    for rows in renamed:  # the same data but one pair: a new set of pairs, from the first of these frames on
        anim.draw(rows, None, now)
        now += 0.05
    assert anim.full_draws == settled + 1
    weights_ax = anim.figure.axes[0]
    labels = [label.get_text() for label in weights_ax.get_yticklabels()]
    assert f"Renamed {symbol}" in labels and f"{exchange} {symbol}" not in labels
    assert len(weights_ax.patches) == len(newest)  # the old bars went with the old pairs


# ---------------------------------------------------------------------------------------------
# the heatmap's painted cells


@dataclass(frozen=True)
class Painted:
    """A live heatmap frame (``painted``) and the same state drawn by matplotlib with the scene's
    hidden image showing the painted cells (``drawn``), both RGBA, top row first; ``box`` and
    ``legend`` are the pixels of the axes (inset a few pixels from their frame) and of their
    legend (with a pixel around it), as (rows, columns) slices of the pictures."""

    painted: np.ndarray
    drawn: np.ndarray
    box: tuple[slice, slice]
    legend: tuple[slice, slice]


def region(extent: Bbox, height: int, inset: int) -> tuple[slice, slice]:
    """The pixel rows and columns of a display box (origin bottom left), ``inset`` pixels inwards."""
    top, bottom = height - math.floor(extent.y1) + inset, height - math.ceil(extent.y0) - inset
    return slice(max(top, 0), bottom), slice(max(math.ceil(extent.x0) + inset, 0), math.floor(extent.x1) - inset)


@pytest.fixture(scope="module")
def painted(depth: pd.DataFrame) -> Painted:
    anim = Animation(HEATMAP_CHART)  # at the default resolution: where the cells' edges fall is the point
    scene = anim.scene
    assert isinstance(scene, HeatmapScene)
    anim.draw(depth, None, 0.0)
    painted = np.asarray(anim.canvas.buffer_rgba()).copy()
    assert scene.colours is not None
    # the same cells drawn by matplotlib: the (hidden) image shows the painted colours over the
    # axes' limits (the live grid spans them: seconds before the newest push, the kept prices)
    image, ax = scene.artists.image, scene.ax
    image.set_data(scene.colours)  # RGBA bytes: drawn as they are, no colour map
    image.set_extent((*ax.get_xlim(), *ax.get_ylim()))
    image.set_interpolation("nearest")
    image.set_visible(True)
    anim.figure.set_layout_engine("none")  # the live frame's layout, not a new one
    anim.canvas.draw()
    for artist in scene.animated:  # the best bid and ask over the cells, as in the live frame
        anim.figure.draw_artist(artist)
    drawn = np.asarray(anim.canvas.buffer_rgba()).copy()
    height = painted.shape[0]
    legend = ax.get_legend()
    assert legend is not None and legend.get_visible()
    return Painted(
        painted,
        drawn,
        region(ax.get_window_extent(), height, inset=3),
        region(legend.get_window_extent(), height, inset=-2),
    )


def differing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where two RGBA pictures differ by more than JPEG-free rounding could."""
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > 8


def test_heatmap_paint_puts_the_cells_where_matplotlibs_image_would(painted: Painted) -> None:
    live, reference = painted.painted, painted.drawn
    cells = np.zeros(live.shape[:2], dtype=bool)
    cells[painted.box] = True
    cells[painted.legend] = False  # the legend: see the next test
    assert cells.mean() > 0.5  # most of the figure is compared
    # the cells are not all one colour (an unpainted white axes would match a white image)
    assert len(np.unique(live[cells].view(np.uint32))) > 10
    differ = differing(live, reference) & cells
    assert differ.sum() < 0.01 * cells.sum(), f"{differ.sum()} of {cells.sum()} pixels differ"
    # where they differ, a cell edge landed one pixel apart (matplotlib snaps the resampled image
    # its own way): each such pixel has its colour within one pixel in the other picture
    near = np.zeros_like(differ)
    for down in (-1, 0, 1):
        for across in (-1, 0, 1):
            shifted = np.roll(reference, (down, across), axis=(0, 1))
            near |= ~differing(live, shifted)
    unexplained = differ & ~near
    assert unexplained.sum() <= 0.0001 * cells.sum(), f"{unexplained.sum()} pixels differ by more than a cell edge"


def test_live_heatmap_shows_its_legend(painted: Painted) -> None:
    """The legend sits above the cells, so painting them leaves it whole (paint once wrote the
    cells over a legend inside the axes)."""
    rows, columns = painted.legend
    above = slice(rows.start, min(rows.stop, painted.box[0].start - 3))  # down to the axes' frame, not into it
    assert above.stop - above.start >= 10, "the legend is not above the axes"
    legend_live, legend_drawn = painted.painted[above, columns], painted.drawn[above, columns]
    assert (legend_live != 255).any()  # something is drawn there: the legend's lines and text
    differ = differing(legend_live, legend_drawn)
    assert differ.mean() < 0.005, f"{differ.mean():.1%} of the legend's box differs from matplotlib's own draw"
