"""The book and index analytics (``nd.wide``, ``nd.tidy_depth``, ``nd.top_of_book``, ``nd.bars``,
``nd.pair_weights``): hand-computed values on small frames typed by the collectors' own buffers
(missing levels, NaN volumes, one-sided books, empty frames), a property test that ``wide`` and
back is the identity, the same results on a collector's DataFrame, a live handle's ``frame()``
and a recording read back, and every refused argument with its message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from waiting import wait_until

import nexusdata as nd
from nexusdata.frames import TableBuffer, build_dataframe
from nexusdata.protocol import tables
from nexusdata.sim import Simulator

T0 = 1_700_000_000_000_000_000  # ns: 2023-11-14 22:13:20 UTC
SECOND = 1_000_000_000
MS0 = 1_700_000_000_000  # the same instant in ms, as quote times arrive


def level(price: Any, volume: Any, cp: Any = "b2c2", time: Any = MS0) -> dict[str, Any]:
    return {"price": price, "volume": volume, "cp": cp, "time": time}


def typed(table: tables.Table, pushes: list[tuple[int, dict[str, Any]]], connection: int = 1, chunk: int = 1024) -> pd.DataFrame:
    """The DataFrame a collector returns for ``pushes`` (received ns, payload), typed by its buffer."""
    buffer = TableBuffer(table, chunk_frames=chunk)
    for received, payload in pushes:
        message = (
            {"event": "API_MARKETDEPTH", "data": payload} if table.envelope == "data" else {"op": table.name, "args": payload}
        )
        buffer.extend([orjson.dumps(message)], received, connection)
    return buffer.dataframe()


def depth_of(*books: tuple[list[dict[str, Any]], list[dict[str, Any]]], symbol: str = "BTCUSDT", start: int = T0) -> pd.DataFrame:
    """Depth rows of one push per (bids, asks), a second apart."""
    return typed(tables.DEPTH, [(start + i * SECOND, {"symbol": symbol, "bids": b, "asks": a}) for i, (b, a) in enumerate(books)])


# two levels of bids, one ask; then one bid of unknown volume and three asks
BOOK = depth_of(
    ([level("99", "1", "a", MS0 + 5), level("98", "4", "b")], [level("101", "3", "b", MS0 + 7)]),
    ([level("99.5", None, "c")], [level("100.5", "2"), level("102", "1"), level("103", "6")]),
)


def test_wide_is_one_row_per_push_in_the_documented_column_order() -> None:
    wide = nd.wide(BOOK)
    fields = ("price", "volume", "cp", "time")
    assert list(wide.columns) == [
        "received_at",
        "connection",
        "symbol",
        *[f"{side}_{field}_{n}" for side in ("bid", "ask") for n in range(3) for field in fields],
    ]
    assert list(wide["received_at"]) == [pd.Timestamp(T0, tz="UTC"), pd.Timestamp(T0 + SECOND, tz="UTC")]
    assert wide["bid_price_0"].tolist() == [99.0, 99.5] and wide["bid_price_1"].tolist()[0] == 98.0
    assert np.isnan(wide["bid_price_1"].iloc[1]) and wide["bid_price_2"].isna().all()  # missing levels: NaN
    assert np.isnan(wide["bid_volume_0"].iloc[1]) and wide["bid_cp_0"].iloc[1] == "c"  # a NaN volume stays NaN
    assert wide["ask_volume_2"].tolist()[1] == 6.0 and np.isnan(wide["ask_volume_2"].iloc[0])
    assert wide["ask_time_0"].iloc[0] == pd.Timestamp(MS0 + 7, unit="ms", tz="UTC") and pd.isna(wide["ask_time_1"].iloc[0])
    assert wide["bid_cp_1"].dtype == BOOK["cp"].dtype and wide["bid_time_0"].dtype == BOOK["time"].dtype
    assert wide["bid_price_0"].dtype == np.float64 and wide["connection"].dtype == np.int32
    assert wide["symbol"].dtype == BOOK["symbol"].dtype and (wide["symbol"] == "BTCUSDT").all()


def test_wide_and_back_is_the_identity_on_hand_built_books() -> None:
    pd.testing.assert_frame_equal(nd.tidy_depth(nd.wide(BOOK)), BOOK)
    one_sided = depth_of(([], [level("10", "1")]), ([level("9", "2"), level("8", None)], []))
    pd.testing.assert_frame_equal(nd.tidy_depth(nd.wide(one_sided)), one_sided)


def test_wide_of_a_frame_whose_pushes_are_out_of_order_or_interleaved() -> None:
    shuffled = BOOK.iloc[[5, 0, 3, 1, 4, 2, 6]]  # rows of both pushes mixed, the second push first
    wide = nd.wide(shuffled)
    assert list(wide["received_at"]) == [pd.Timestamp(T0 + SECOND, tz="UTC"), pd.Timestamp(T0, tz="UTC")]  # first seen first
    pd.testing.assert_frame_equal(wide.iloc[::-1].reset_index(drop=True), nd.wide(BOOK))
    back = nd.tidy_depth(wide.sort_values("received_at", ignore_index=True))
    pd.testing.assert_frame_equal(back, BOOK)


def test_fields_and_levels_narrow_the_wide_frame_and_back_fills_the_rest_as_missing() -> None:
    wide = nd.wide(BOOK, levels=1, fields=["volume", "price"])
    assert list(wide.columns) == [
        "received_at",
        "connection",
        "symbol",
        "bid_volume_0",
        "bid_price_0",
        "ask_volume_0",
        "ask_price_0",
    ]
    back = nd.tidy_depth(wide)
    assert back.dtypes.astype(str).to_dict() == build_dataframe(tables.DEPTH, []).dtypes.astype(str).to_dict()
    assert back["level"].tolist() == [0, 0, 0, 0] and back["price"].tolist() == [99.0, 101.0, 99.5, 100.5]
    assert back["cp"].isna().all() and back["time"].isna().all()
    assert nd.wide(BOOK, fields="price").shape == (2, 3 + 2 * 3)


def test_empty_depth_gives_an_empty_wide_frame_and_back_the_exact_empty_schema() -> None:
    empty = build_dataframe(tables.DEPTH, [])
    wide = nd.wide(empty)
    assert list(wide.columns) == ["received_at", "connection", "symbol"] and wide.empty
    assert wide["received_at"].dtype == empty["received_at"].dtype
    pd.testing.assert_frame_equal(nd.tidy_depth(wide), empty)
    top = nd.top_of_book(empty)
    assert top.empty and "mid" in top.columns and "imbalance" in top.columns


def test_several_symbols_and_connections_keep_their_pushes_apart() -> None:
    btc = depth_of(([level("100", "1")], [level("101", "1")]), symbol="BTCUSDT")
    eth = depth_of(([level("10", "1")], [level("11", "2")]), ([level("9", "1")], []), symbol="ETHUSDT", start=T0 + SECOND // 2)
    both = pd.concat([btc, eth], ignore_index=True)  # concat turns the differing symbol categories into strings
    both.loc[len(btc) :, "connection"] = np.int32(2)
    wide = nd.wide(both)
    assert wide["symbol"].tolist() == ["BTCUSDT", "ETHUSDT", "ETHUSDT"] and wide["connection"].tolist() == [1, 2, 2]
    assert wide["ask_volume_0"].tolist()[:2] == [1.0, 2.0] and np.isnan(wide["ask_volume_0"].iloc[2])
    # the same received_at on two symbols (two connections) is two pushes
    clash = pd.concat([btc, btc.assign(symbol="ETHUSDT")], ignore_index=True)
    assert nd.wide(clash)["symbol"].tolist() == ["BTCUSDT", "ETHUSDT"]


def test_top_of_book_by_hand() -> None:
    top = nd.top_of_book(BOOK)
    assert list(top.columns) == [
        "received_at",
        "connection",
        "symbol",
        "time",
        "bid_price",
        "bid_volume",
        "bid_cp",
        "ask_price",
        "ask_volume",
        "ask_cp",
        "mid",
        "spread",
        "spread_bps",
        "microprice",
        "imbalance",
    ]
    first = top.iloc[0]
    assert (first["bid_price"], first["ask_price"], first["bid_cp"], first["ask_cp"]) == (99.0, 101.0, "a", "b")
    assert first["mid"] == 100.0 and first["spread"] == 2.0 and first["spread_bps"] == pytest.approx(200.0)
    assert first["microprice"] == pytest.approx((99 * 3 + 101 * 1) / 4)  # each price weighed by the other side's volume
    assert first["imbalance"] == pytest.approx((1 - 3) / (1 + 3))
    assert first["time"] == pd.Timestamp(MS0 + 7, unit="ms", tz="UTC")  # the later of the best quotes' times
    second = top.iloc[1]
    assert second["mid"] == 100.0 and np.isnan(second["microprice"]) and np.isnan(second["imbalance"])  # bid volume unknown
    deeper = nd.top_of_book(BOOK, levels=2)
    assert deeper["imbalance"].iloc[0] == pytest.approx((1 + 4 - 3) / (1 + 4 + 3))  # a level not quoted adds nothing
    assert np.isnan(deeper["imbalance"].iloc[1])
    assert nd.top_of_book(BOOK, levels=50)["imbalance"].iloc[0] == pytest.approx(0.25)


def test_top_of_book_of_one_sided_and_crossed_books() -> None:
    book = depth_of(
        ([level("9", "2", "x", MS0 + 1), level("8", "1")], []),
        ([], [level("11", "5")]),
        ([level("12", "1")], [level("11", "1")]),
    )
    top = nd.top_of_book(book, levels=2)
    assert np.isnan(top["mid"].iloc[0]) and np.isnan(top["spread"].iloc[0]) and np.isnan(top["microprice"].iloc[0])
    assert top["imbalance"].tolist()[:2] == [1.0, -1.0]  # only bids, only asks
    assert top["bid_cp"].iloc[0] == "x" and pd.isna(top["ask_cp"].iloc[0]) and pd.isna(top["bid_cp"].iloc[1])
    assert top["time"].iloc[0] == pd.Timestamp(MS0 + 1, unit="ms", tz="UTC")  # the one side's time
    assert top["spread"].iloc[2] == -1.0 and top["spread_bps"].iloc[2] == pytest.approx(-1 / 11.5 * 10_000)


def test_top_of_book_takes_a_wide_frame_and_leaves_out_columns_the_depth_lacks() -> None:
    pd.testing.assert_frame_equal(nd.top_of_book(nd.wide(BOOK), levels=2), nd.top_of_book(BOOK, levels=2))
    bare = nd.top_of_book(BOOK.drop(columns=["cp", "time", "connection"]))
    assert list(bare.columns) == [
        "received_at",
        "symbol",
        "bid_price",
        "bid_volume",
        "ask_price",
        "ask_volume",
        "mid",
        "spread",
        "spread_bps",
        "microprice",
        "imbalance",
    ]
    assert bare["mid"].tolist() == [100.0, 100.0]


# --- property: wide and back -------------------------------------------------------------------

_maybe_number = st.one_of(st.none(), st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False).map(str))
_level = st.fixed_dictionaries(
    {},
    optional={
        "price": _maybe_number,
        "volume": st.one_of(_maybe_number, st.just("junk")),
        "cp": st.sampled_from(["b2c2", "galaxy", "wintermute"]),
        "time": st.integers(min_value=MS0, max_value=MS0 + 10**6),
    },
).filter(lambda lv: any(lv.get(k) is not None and lv.get(k) != "junk" for k in ("price", "volume", "cp", "time")))
_push = st.fixed_dictionaries(
    {
        "symbol": st.sampled_from(["BTCUSDT", "ETHUSDT", "SOLUSDT"]),
        "bids": st.lists(_level, max_size=6),
        "asks": st.lists(_level, max_size=6),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pushes=st.lists(_push, max_size=12),
    connection=st.integers(min_value=1, max_value=5),
    chunk=st.integers(min_value=1, max_value=4),
    levels=st.integers(min_value=1, max_value=7),
)
def test_wide_and_back_is_the_identity(pushes: list[dict[str, Any]], connection: int, chunk: int, levels: int) -> None:
    """Any collected depth frame (levels missing on either side, missing or junk values, several
    symbols, categories joined across chunks) comes back from wide unchanged; top_of_book reads
    a wide frame as it reads the rows."""
    depth = typed(tables.DEPTH, [(T0 + i * 1000, p) for i, p in enumerate(pushes)], connection, chunk)
    wide = nd.wide(depth)
    assert len(wide) == sum(1 for p in pushes if p["bids"] or p["asks"])
    pd.testing.assert_frame_equal(nd.tidy_depth(wide), depth)
    top = nd.top_of_book(wide, levels)
    # a wide frame without levels (no push had any) cannot tell that the depth had cp and time
    pd.testing.assert_frame_equal(top, nd.top_of_book(depth, levels)[top.columns if wide.empty else slice(None)])


# --- bars --------------------------------------------------------------------------------------


def coin_index(cid: int, points: list[tuple[int, float, int]]) -> pd.DataFrame:
    """coin_index rows: (received ns, latest, update time in seconds) per push."""
    payloads = [
        (r, {"cid": cid, "symbol": "ETH", "cmcSymbol": "ethereum", "latest": str(p), "updateTime": u}) for r, p, u in points
    ]
    return typed(tables.COIN_INDEX, payloads)


U0 = T0 // SECOND


def test_bars_by_hand_on_received_at_and_on_exchange_time() -> None:
    index = coin_index(1, [(T0, 1.0, U0 + 50), (T0 + 10 * SECOND, 3.0, U0 + 55), (T0 + 130 * SECOND, 2.0, U0 + 65)])
    bars = nd.bars(index, "1min")  # T0 is 20 s past a minute: bins at -20 s, +40 s (empty), +100 s
    assert list(bars.columns) == ["cid", "received_at", "open", "high", "low", "close", "count"]
    start = pd.Timestamp(T0, tz="UTC").floor("1min")
    assert list(bars["received_at"]) == [start, start + pd.Timedelta("1min"), start + pd.Timedelta("2min")]
    assert bars[["open", "high", "low", "close"]].iloc[0].tolist() == [1.0, 3.0, 1.0, 3.0]
    assert bars["count"].tolist() == [2, 0, 1] and bars.iloc[1][["open", "close"]].isna().all()  # an empty bar
    assert bars["close"].iloc[2] == 2.0 and (bars["cid"] == "1").all() and bars["cid"].dtype == index["cid"].dtype
    exchange = nd.bars(index, "1min", on="exchange")  # update times +50 s, +55 s, +65 s: all in the bin from +40 s
    assert list(exchange.columns)[1] == "update_time" and list(exchange["update_time"]) == [start + pd.Timedelta("1min")]
    assert exchange[["open", "high", "low", "close", "count"]].values.tolist() == [[1.0, 3.0, 1.0, 2.0, 3]]
    pd.testing.assert_frame_equal(nd.bars(index, "1min", on="update_time"), exchange)


def test_bars_per_series_of_a_frame_holding_several() -> None:
    one = coin_index(1, [(T0, 1.0, U0), (T0 + SECOND, 2.0, U0)])
    two = coin_index(2, [(T0 + SECOND // 2, 10.0, U0), (T0 + 3 * SECOND, 7.0, U0)])
    bars = nd.bars(pd.concat([one, two], ignore_index=True), "1h", price="latest")
    assert bars["cid"].tolist() == ["1", "2"]
    assert bars[["open", "high", "low", "close", "count"]].values.tolist() == [[1, 2, 1, 2, 2], [10, 10, 7, 7, 2]]
    # every series on the same bin edges, counted from midnight of the frame's first day, also for
    # a frequency that does not divide a day and a series that starts a day later
    later = coin_index(2, [(T0 + 86_400 * SECOND + 5 * SECOND, 10.0, U0)])
    bars = nd.bars(pd.concat([one, later], ignore_index=True), "7min")
    starts = bars.groupby("cid", observed=True)["received_at"].max()
    assert starts.tolist() == [pd.Timestamp("2023-11-14 22:10", tz="UTC"), pd.Timestamp("2023-11-15 22:12", tz="UTC")]
    assert nd.bars(later, "7min")["received_at"].tolist() == [pd.Timestamp("2023-11-15 22:10", tz="UTC")]  # alone: its own day


def test_bars_take_one_price_per_push_of_an_exploded_table_and_each_pair_apart() -> None:
    def push(price: str, pairs: list[tuple[str, str, str]]) -> dict[str, Any]:
        infos = [{"exchange": e, "pairSymbol": s, "pairPrice": p, "pairWeight": "0.5", "status": 1} for e, s, p in pairs]
        return {
            "underlyingSymbol": "ETH",
            "underlyingCid": 1,
            "quoteSymbol": "USD",
            "price": price,
            "status": 1,
            "pairInfos": infos,
        }

    v3 = typed(
        tables.PAIR_INDEX_V3,
        [
            (T0, push("5", [("Binance", "ETH_USDT", "4"), ("OKEx", "ETH_USDT", "6")])),
            (T0 + SECOND, push("7", [("Binance", "ETH_USDT", "8"), ("OKEx", "ETH_USDT", "6")])),
        ],
    )
    bars = nd.bars(v3, "1h")
    assert bars[["open", "high", "low", "close", "count"]].values.tolist() == [[5, 7, 5, 7, 2]]  # pushes, not rows
    pairs = nd.bars(v3, "1h", price="pair_price")
    assert list(pairs.columns[:4]) == ["underlying_cid", "exchange", "pair_symbol", "received_at"]
    assert pairs[["exchange", "open", "close", "count"]].values.tolist() == [["Binance", 4, 8, 2], ["OKEx", 6, 6, 2]]


def test_bars_of_depth_are_bars_of_the_mid_price() -> None:
    book = depth_of(
        ([level("99", "1")], [level("101", "1")]), ([level("103", "1")], [level("105", "1")]), ([], [level("1", "1")])
    )
    bars = nd.bars(book, "1h")
    assert list(bars.columns) == ["symbol", "received_at", "open", "high", "low", "close", "count"]
    assert bars[["open", "high", "low", "close", "count"]].values.tolist() == [[100, 104, 100, 104, 2]]  # one-sided: no mid
    pd.testing.assert_frame_equal(nd.bars(nd.top_of_book(book), "1h"), bars)
    pd.testing.assert_frame_equal(nd.bars(nd.wide(book), "1h"), bars)
    assert nd.bars(book, "1h", price="spread")["close"].tolist() == [2.0]
    assert nd.bars(book, "1h", on="exchange").columns[1] == "time"


def test_bars_of_an_empty_frame_have_the_columns() -> None:
    bars = nd.bars(build_dataframe(tables.COIN_INDEX_V3, []), "1min")
    assert list(bars.columns) == ["underlying_cid", "received_at", "open", "high", "low", "close", "count"] and bars.empty
    assert nd.bars(build_dataframe(tables.DEPTH, []), "5s").empty


# --- pair weights ------------------------------------------------------------------------------


def v3_push(cid: int, pairs: list[tuple[str, str, str, int]]) -> dict[str, Any]:
    infos = [{"exchange": e, "pairSymbol": s, "pairWeight": w, "status": status} for e, s, w, status in pairs]
    return {
        "underlyingSymbol": "ETH",
        "underlyingCid": cid,
        "quoteSymbol": "USD",
        "price": "3000",
        "status": 1,
        "coinUpdateTime": MS0,
        "pairInfos": infos,
    }


V3 = typed(
    tables.PAIR_INDEX_V3,
    [
        (T0, v3_push(1, [("Binance", "ETH_USDT", "0.6", 1), ("OKEx", "ETH_USDT", "0.4", 1)])),
        (T0 + SECOND, v3_push(1, [("OKEx", "ETH_USDT", "1", 1), ("Huobi", "ETH_USDC", "0", 3)])),
        (T0 + 2 * SECOND, v3_push(1, [])),
    ],
)


def test_pair_weights_by_hand() -> None:
    table = nd.pair_weights(V3)
    assert table.columns.names == ["field", "pair"]
    pairs = ["Binance:ETH_USDT", "OKEx:ETH_USDT", "Huobi:ETH_USDC"]
    assert list(table["weight"].columns) == pairs and list(table["status"].columns) == pairs
    assert list(table.index) == [pd.Timestamp(T0 + i * SECOND, tz="UTC") for i in range(3)]
    assert table.index.name == "received_at"
    weights = table["weight"].to_numpy()
    assert np.array_equal(weights, [[0.6, 0.4, np.nan], [np.nan, 1.0, 0.0], [np.nan] * 3], equal_nan=True)
    assert table["status"].to_numpy().tolist() == [[1, 1, 0], [0, 1, 3], [0, 0, 0]]
    assert (table["status"].dtypes == np.int16).all() and (table["weight"].dtypes == np.float64).all()
    exchange = nd.pair_weights(V3, on="exchange")
    assert exchange.index.name == "coin_update_time" and (exchange.index == pd.Timestamp(MS0, unit="ms", tz="UTC")).all()


def test_pair_weights_of_one_coin_among_several_and_of_an_empty_frame() -> None:
    other = typed(tables.PAIR_INDEX_V3, [(T0 + SECOND // 2, v3_push(2, [("Kraken", "BTC_USD", "1", 1)]))])
    both = pd.concat([V3, other], ignore_index=True)
    assert list(nd.pair_weights(both, id=2)["weight"].columns) == ["Kraken:BTC_USD"]
    pd.testing.assert_frame_equal(nd.pair_weights(both, id="1"), nd.pair_weights(V3))
    empty = nd.pair_weights(build_dataframe(tables.PAIR_INDEX_V3, []))
    assert empty.empty and empty.columns.names == ["field", "pair"]


# --- the three sources: a collector, a live handle, a recording ---------------------------------


def reference_book(depth: pd.DataFrame) -> pd.DataFrame:
    """Best prices and the level-0 imbalance per push by plain pandas, independently of the module."""
    best = depth[depth["level"] == 0].pivot_table(index="received_at", columns="side", values=["price", "volume"], observed=True)
    return pd.DataFrame(
        {
            "mid": (best["price"]["bid"] + best["price"]["ask"]) / 2,
            "imbalance": (best["volume"]["bid"] - best["volume"]["ask"]) / (best["volume"]["bid"] + best["volume"]["ask"]),
        }
    )


def check_depth(depth: pd.DataFrame, symbols: int = 1) -> None:
    assert len(depth) and depth["symbol"].nunique() == symbols
    wide = nd.wide(depth)
    assert len(wide) == depth.groupby(["received_at", "symbol"], observed=True).ngroups
    assert wide.filter(regex=r"^bid_price_\d+$").shape[1] == depth["level"].max() + 1
    pd.testing.assert_frame_equal(nd.tidy_depth(wide), depth)
    top = nd.top_of_book(depth).set_index("received_at")
    reference = reference_book(depth)
    assert np.allclose(top.loc[reference.index, ["mid", "imbalance"]], reference)
    assert (top["spread"] > 0).all()  # the simulator's books never cross
    bars = nd.bars(depth, "100ms")
    assert bars["count"].sum() == len(top) and set(bars["symbol"]) == set(depth["symbol"])


def test_on_a_collectors_frame(sim: Simulator) -> None:
    depth = nd.stream_depth("BTCUSDT", seconds=10, depth=5, max_messages=6, progress=False, **sim.nexus)
    check_depth(depth)
    v3 = nd.collect_index("pair_index_v3", "1", seconds=10, max_messages=6, progress=False, **sim.chainext)
    table = nd.pair_weights(v3)
    assert len(table) == v3["received_at"].nunique() == 6
    enabled = table["weight"].where(table["status"] == 1).sum(axis=1)
    assert np.allclose(enabled, 1.0)  # the enabled pairs' weights sum to 1 in every push
    assert nd.bars(v3, "1min")["count"].sum() == 6


def test_on_a_live_handles_frame(sim: Simulator, no_thread_leak: None) -> None:
    with nd.live_depth("ETHUSDT", depth=3, **sim.nexus) as live:
        assert wait_until(lambda: live.stats()["messages"] >= 5)
        depth = live.frame()
    assert depth["level"].max() == 2
    check_depth(depth)


def test_on_a_recording_of_several_symbols(sim: Simulator, tmp_path: Path) -> None:
    nd.record(tmp_path, "depth", "BTCUSDT", "ETHUSDT", seconds=10, max_messages=12, progress=False, **sim.nexus)
    depth = nd.read_recording(tmp_path, "depth")
    check_depth(depth, symbols=2)
    assert (
        nd.wide(depth)["symbol"].value_counts().to_dict()
        == depth.drop_duplicates("received_at")["symbol"].value_counts().to_dict()
    )


# --- refused arguments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: nd.wide([1, 2]), "depth must be a depth DataFrame (stream_depth's columns), got list"),
        (
            lambda: nd.wide(BOOK.drop(columns=["side", "price"])),
            "depth must be a depth DataFrame (stream_depth's columns); it lacks the columns side, price",
        ),
        (lambda: nd.wide(V3), "it lacks the columns symbol, side, level, volume"),
        (lambda: nd.wide(BOOK, levels=0), "levels must be a whole number >= 1, got 0"),
        (lambda: nd.wide(BOOK, levels=True), "levels must be a whole number >= 1, got True"),
        (lambda: nd.wide(BOOK, fields=["price", "size"]), "fields must be distinct names among price, volume, cp, time"),
        (lambda: nd.wide(BOOK.drop(columns="cp"), fields=["cp"]), "fields must be distinct names among price, volume, time"),
        (lambda: nd.wide(BOOK, fields=[]), "fields must be distinct names"),
        (lambda: nd.wide(BOOK.assign(side="buy")), "depth's side must be 'bid' or 'ask', got 'buy'"),
        (lambda: nd.wide(BOOK.assign(level=-1)), "depth's level must be whole numbers from 0 to 127, got -1"),
        (lambda: nd.wide(BOOK.assign(level=0.5)), "depth's level must be whole numbers from 0 to 127"),
        (lambda: nd.wide(BOOK.assign(price="x")), "depth's price must be numbers, got dtype"),
        (lambda: nd.wide(BOOK.assign(received_at=1)), "depth's received_at must be times (datetime64), got dtype int64"),
        (
            lambda: nd.wide(pd.concat([BOOK, BOOK])),
            "depth must hold one row per received_at, symbol, side and level; 7 rows repeat one",
        ),
        (
            lambda: nd.tidy_depth(BOOK.iloc[:, :2]),
            "wide must be a wide depth DataFrame (nd.wide's result); it lacks the columns symbol",
        ),
        (
            lambda: nd.tidy_depth(nd.wide(BOOK).rename(columns={"bid_price_0": "bid_price_200"})),
            "wide's levels must be from 0 to 127",
        ),
        (lambda: nd.top_of_book(BOOK, levels=-2), "levels must be a whole number >= 1, got -2"),
        (
            lambda: nd.top_of_book(None),
            "depth must be a depth DataFrame (stream_depth's columns) or nd.wide's result, got NoneType",
        ),
        (
            lambda: nd.bars(V3, "1min", price="latest"),
            "price must be one of price, pair_price, transferred_price for a pair_index_v3",
        ),
        (lambda: nd.bars(BOOK, "soon"), "freq must be a positive pandas frequency such as '1min', '5s' or '1h', got 'soon'"),
        (lambda: nd.bars(BOOK, "-1min"), "freq must be a positive pandas frequency"),
        (
            lambda: nd.bars(BOOK, "1min", on="update_time"),
            "on must be one of 'received_at', 'exchange', 'time' for mid of a depth",
        ),
        (lambda: nd.bars(BOOK.drop(columns="time"), "1min", on="time"), "frame must have the columns time for these bars"),
        (lambda: nd.bars(BOOK[["received_at", "price"]]), "frame must be a DataFrame of depth, pair_index, coin_index, index"),
        (
            lambda: nd.bars("BTCUSDT"),
            "frame must be a DataFrame of depth, pair_index, coin_index, index, pair_index_v3, coin_index_v3",
        ),
        (
            lambda: nd.pair_weights(BOOK),
            "v3 must be a pair_index_v3 DataFrame (collect_index('pair_index_v3')'s columns); it lacks",
        ),
        (lambda: nd.pair_weights(V3, on="time"), "on must be one of 'received_at', 'exchange', 'coin_update_time', got 'time'"),
        (lambda: nd.pair_weights(V3, id=2), "id must be one of the frame's underlying_cid (1), got 2"),
        (lambda: nd.pair_weights(pd.concat([V3, V3.assign(underlying_cid="2")])), "id must be given: v3 holds several coins"),
        (lambda: nd.pair_weights(pd.concat([V3, V3])), "v3 must list each pair once per push"),
    ],
)
def test_bad_arguments_are_refused_naming_what_is_accepted(call: Any, message: str) -> None:
    with pytest.raises(nd.ArgumentError) as raised:
        call()
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)
