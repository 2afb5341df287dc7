"""The registry of subscription kinds (nexusdata/kinds.py) and the deprecation paths of the
vocabulary clean-up: every caller reads one registry, and the old spellings still work."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import nexusdata as nd
from nexusdata.kinds import KINDS, ORDER_VIEWS, keyword_only, order_view, with_rows
from nexusdata.protocol import TABLES, chainext
from nexusdata.recording.layout import PARTITIONS
from nexusdata.recording.writer import FEEDS
from nexusdata.sim import Simulator


def test_every_table_is_one_kind_and_every_kind_one_table() -> None:
    assert set(KINDS) == set(TABLES) == set(PARTITIONS) == set(FEEDS)
    assert all(kind.table is TABLES[name] and kind.table.name == name for name, kind in KINDS.items())
    assert {name for name, kind in KINDS.items() if kind.service == "chainext"} == set(chainext.TOPICS)
    assert {name for name, kind in KINDS.items() if kind.chart} == {"depth", "pair_index_v3"}


def test_a_kind_builds_labels_and_refuses() -> None:
    depth = KINDS["depth"]
    sub = depth.subscription(" BTCUSDT ", 10)
    assert (sub.symbol, sub.depth) == ("BTCUSDT", 10) and depth.label(sub) == "BTCUSDT depth"
    assert KINDS["risk"].label(KINDS["risk"].subscription(("BTCUSDT", "A"))) == "BTCUSDT A risk"
    assert KINDS["pair_index_v3"].label(KINDS["pair_index_v3"].subscription(1)) == "pair_index_v3 1"
    assert KINDS["executions"].label(KINDS["executions"].subscription()) == "executions"
    assert KINDS["depth"].subscriptions(["A", "B", "A"]) == (depth.subscription("A"), depth.subscription("B"))
    with pytest.raises(nd.ArgumentError, match="at least one symbol"):
        KINDS["depth"].subscriptions([])
    with pytest.raises(nd.ArgumentError, match="takes no symbol"):
        KINDS["orders"].subscriptions(["BTCUSDT"])
    with pytest.raises(nd.ArgumentError, match="depth must be a whole number from 1 to 100"):
        depth.subscription("BTCUSDT", 101)
    with pytest.raises(nd.ArgumentError, match="rows must be one of 'orders', 'cp_orders', 'executions'"):
        order_view("fills")


def test_order_views_are_chosen_by_rows_and_the_old_names_still_work() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [with_rows("orders", rows).name for rows in ORDER_VIEWS] == list(ORDER_VIEWS)
        assert with_rows("orders", None).name == "orders" and with_rows("depth", None).name == "depth"
    with pytest.warns(DeprecationWarning, match="rows='executions'"):
        assert with_rows("executions", None).name == "executions"
    with pytest.raises(nd.ArgumentError, match="give the order view once"):
        with_rows("executions", "executions")
    with pytest.raises(nd.ArgumentError, match="depth has none"):
        with_rows("depth", "executions")


def test_record_and_read_take_rows_and_warn_at_the_callers_line(sim: Simulator, tmp_path: Path) -> None:
    summary = nd.record(tmp_path, "orders", rows="executions", max_messages=3, seconds=30, progress=False, **sim.nexus)
    assert summary.kind == "executions" and (tmp_path / "feed=executions").is_dir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = nd.read_recording(tmp_path, "orders", rows="executions")
    with pytest.warns(DeprecationWarning) as caught:
        old = nd.read_recording(tmp_path, "executions")
    assert caught[0].filename == __file__  # pointed at this line, not at the package
    assert len(new) == len(old) == summary.rows > 0


def test_a_positional_seconds_still_works_with_a_deprecation_warning() -> None:
    @keyword_only(1, "seconds")
    def collect(symbol: str, seconds: float = 60, depth: int = 5) -> tuple[float, int]:
        return seconds, depth

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert collect("BTCUSDT", seconds=10, depth=3) == (10, 3)
    with pytest.warns(DeprecationWarning, match="pass seconds= by keyword") as caught:
        assert collect("BTCUSDT", 10) == (10, 5)
    assert caught[0].filename == __file__
    assert nd.stream_depth.__name__ == "stream_depth" and "symbol" in nd.stream_depth.__doc__
