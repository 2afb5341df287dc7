"""The blocking collectors of the public API (README.md) against the simulator, over real loopback sockets."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import orjson
import pandas as pd
import pytest
from pandas.api.types import is_float_dtype, is_string_dtype
from waiting import well_before

import nexusdata as nd
from nexusdata.sim import Simulator


def _is_utc_time(dtype: object) -> bool:
    return isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"


def _assert_strings(series: pd.Series) -> None:
    assert is_string_dtype(series.dtype) or isinstance(series.dtype, pd.CategoricalDtype), series.dtype
    assert all(isinstance(v, str) for v in series.dropna()), series.head()


def test_stream_depth_shape_and_dtypes(sim: Simulator, no_thread_leak: None) -> None:
    df = nd.stream_depth("BTCUSDT", seconds=10, depth=5, max_messages=8, **sim.nexus)
    assert list(df.columns) == ["received_at", "connection", "symbol", "side", "level", "price", "volume", "cp", "time"]
    assert df["received_at"].nunique() == 8  # stopped early, at exactly max_messages pushes
    assert len(df) == 8 * 2 * 5
    assert set(df["side"]) == {"bid", "ask"} and set(df["level"]) == set(range(5))
    assert (df["symbol"] == "BTCUSDT").all()
    for col in ("price", "volume"):
        assert df[col].dtype == "float64"
    for col in ("received_at", "time"):
        assert _is_utc_time(df[col].dtype), df[col].dtype
    _assert_strings(df["cp"])
    for _, push in df.groupby("received_at"):
        bids = push[push.side == "bid"].sort_values("level")["price"]
        asks = push[push.side == "ask"].sort_values("level")["price"]
        assert bids.iloc[0] < asks.iloc[0]
        assert bids.is_monotonic_decreasing and asks.is_monotonic_increasing
    assert (df["connection"] == 1).all()
    meta = df.attrs["nexusdata"]
    assert meta["messages"] == 8 and meta["malformed"] == 0


def test_max_messages_stops_early(sim: Simulator) -> None:
    with well_before(60):  # stopping before `seconds` is the behaviour: a generous bound on it
        df = nd.stream_depth("ETHUSDT", seconds=60, max_messages=3, **sim.nexus)
    assert df["received_at"].nunique() == 3


def test_collect_orders_all_row_views(sim: Simulator) -> None:
    orders = nd.collect_orders(seconds=10, max_messages=5, **sim.nexus)
    assert len(orders) >= 5
    for col in ("order_id", "client_order_id", "cp_orderid"):
        _assert_strings(orders[col])
    assert orders["order_id"].str.fullmatch(r"\d{19}").all()  # exact digits, never a float
    for col in ("order_volume", "execute_volume", "pending_volume", "execute_amount"):
        assert is_float_dtype(orders[col]), col
    for col in ("order_time", "execute_time", "received_at"):
        assert _is_utc_time(orders[col].dtype), col

    children = nd.collect_orders(seconds=10, max_messages=5, rows="cp_orders", **sim.nexus)
    executions = nd.collect_orders(seconds=10, max_messages=5, rows="executions", **sim.nexus)
    assert {"client_order_id", "parent_order_id", "cp_orderid", "execute_volume"} <= set(children.columns)
    assert {"execute_id", "execute_price", "execute_volume", "cp_order_id", "parent_order_id"} <= set(executions.columns)
    # Every row equals what the simulator sent, to the exact id digits.
    sent_orders = [o for s in sim.sent if s.kind == "API_ORDER" for o in orjson.loads(s.text)["data"]]
    sent_children = {c["cpOrderid"]: (o, c) for o in sent_orders for c in o["cpOrders"]}
    sent_executions = {e["executeId"]: (o, e) for o in sent_orders for c in o["cpOrders"] for e in c["executions"]}
    assert len(children) >= 5 and len(executions) >= 5
    for row in children.itertuples():
        parent, child = sent_children[row.cp_orderid]
        assert (row.parent_order_id, row.client_order_id) == (parent["orderId"], parent["clientOrderId"])
        assert row.execute_volume == float(child["executeVolume"])
    for row in executions.itertuples():
        parent, execution = sent_executions[row.execute_id]
        assert row.parent_order_id == parent["orderId"]
        assert (row.execute_price, row.execute_volume) == (float(execution["executePrice"]), float(execution["executeVolume"]))


def test_collect_risk(sim: Simulator) -> None:
    df = nd.collect_risk("BTCUSDT", "A", seconds=10, max_messages=4, **sim.nexus)
    assert len(df) >= 4
    assert (df["symbol"] == "BTCUSDT").all() and (df["book"] == "A").all()
    for col in ("amount", "volume", "daily_amount", "net_volume", "mtm_amount", "net_pl", "hedge_pl"):
        assert is_float_dtype(df[col]), col


@pytest.mark.parametrize(
    "topic, id, time_col, extra",
    [
        ("coin_index", "0", "update_time", ["cid", "symbol", "cmc_symbol", "latest"]),
        ("pair_index", 18, "update_time", ["market", "pair", "price", "timestamp"]),
        ("index", "11", "update_time", ["index_id", "last_price", "market_cap", "turnover24h"]),
        ("coin_index_v3", "1", "update_time", ["underlying_symbol", "underlying_cid", "price", "status"]),
        ("pair_index_v3", "1", "coin_update_time", ["exchange", "pair_symbol", "pair_weight", "pair_status", "pair_update_time"]),
    ],
)
def test_collect_index_topics(sim: Simulator, topic: str, id: object, time_col: str, extra: list[str]) -> None:
    df = nd.collect_index(topic, id, seconds=10, max_messages=3, **sim.chainext)
    assert df["received_at"].nunique() == 3
    assert set(extra) <= set(df.columns)
    assert _is_utc_time(df[time_col].dtype) and _is_utc_time(df["received_at"].dtype)
    assert df[time_col].notna().all()
    assert abs(df[time_col].iloc[-1] - pd.Timestamp.now(tz="UTC")) < pd.Timedelta(minutes=1)
    if topic == "pair_index_v3":
        assert "status" in df.columns and "pair_status" in df.columns
        assert is_float_dtype(df["pair_weight"]) and is_float_dtype(df["price"])
        for _, push in df.groupby("received_at"):
            enabled = push[push.pair_status == 1]
            assert enabled["pair_weight"].sum() == pytest.approx(1.0)
            assert (push[push.pair_status != 1]["pair_weight"] == 0).all()


def test_bad_nexus_token_raises_promptly(sim: Simulator, no_thread_leak: None) -> None:
    with well_before(60), pytest.raises(nd.AuthenticationError) as err:  # raised at once, not at the run's end
        nd.stream_depth("BTCUSDT", seconds=60, url=sim.nexus_url, token="wrong-token")
    assert "wrong-token" not in str(err.value) and "wrong-token" not in repr(err.value)


def test_bad_chainext_secret_raises_promptly(sim: Simulator, no_thread_leak: None) -> None:
    with well_before(60), pytest.raises(nd.AuthenticationError) as err:  # raised at once, not at the run's end
        nd.collect_index("coin_index", "1", seconds=60, url=sim.chainext_url, api_key=sim.api_key, api_secret="nope")
    assert err.value.code == 2012


@pytest.mark.parametrize("topic, id, code", [("coin_index", "999", 3007), ("index", "999", 3010)])
def test_refused_subscription(sim: Simulator, topic: str, id: str, code: int) -> None:
    with pytest.raises(nd.SubscriptionError) as err:
        nd.collect_index(topic, id, seconds=30, **sim.chainext)
    assert err.value.code == code and err.value.info


def test_credentials_from_environment(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUSDATA_NEXUS_URL", sim.nexus_url.removesuffix("/api/realtime"))
    monkeypatch.setenv("NEXUSDATA_NEXUS_TOKEN", sim.token)
    monkeypatch.setenv("NEXUSDATA_CHAINEXT_URL", sim.chainext_url)
    monkeypatch.setenv("NEXUSDATA_CHAINEXT_API_KEY", sim.api_key)
    monkeypatch.setenv("NEXUSDATA_CHAINEXT_API_SECRET", sim.api_secret)
    assert len(nd.stream_depth("BTCUSDT", seconds=10, max_messages=2)) == 2 * 2 * 5
    assert nd.collect_index("coin_index", 0, seconds=10, max_messages=2)["received_at"].nunique() == 2


def test_reconnects_and_keeps_rows_from_both_connections(fresh_sim: Simulator, no_thread_leak: None) -> None:
    def drop_after_first_pushes() -> None:
        assert fresh_sim.wait_for_sent(5, timeout=10)
        fresh_sim.drop_connections()

    dropper = threading.Thread(target=drop_after_first_pushes)
    dropper.start()
    df = nd.stream_depth("BTCUSDT", seconds=4, backoff_base=0.05, **fresh_sim.nexus)
    dropper.join()
    assert set(df["connection"]) == {1, 2}
    assert fresh_sim.connections_total == 2
    gaps = pd.DataFrame(df.attrs["nexusdata"]["gaps"])
    assert list(gaps["event"]) == ["connected", "disconnected", "connected", "closed"]
    assert list(gaps["connection"]) == [1, 1, 2, 2]


def test_keyboard_interrupt_returns_rows_so_far(
    fresh_sim: Simulator, stop_button: Callable[[], None], no_thread_leak: None
) -> None:
    def interrupt() -> None:
        assert fresh_sim.wait_for_sent(5, timeout=10)
        stop_button()

    interrupter = threading.Thread(target=interrupt)
    interrupter.start()
    with well_before(60):  # the stop button returns at once, not at the run's end
        df = nd.collect_index("coin_index", "1", seconds=60, **fresh_sim.chainext)
    interrupter.join()
    assert len(df) >= 1 and df.attrs["nexusdata"]["interrupted"] is True


def test_collectors_run_side_by_side(sim: Simulator, no_thread_leak: None) -> None:
    with ThreadPoolExecutor(3) as pool:
        a = pool.submit(nd.stream_depth, "BTCUSDT", seconds=10, max_messages=3, **sim.nexus)
        b = pool.submit(nd.collect_index, "pair_index_v3", "1", seconds=10, max_messages=3, **sim.chainext)
        c = pool.submit(nd.collect_orders, seconds=10, max_messages=3, **sim.nexus)
        assert a.result()["received_at"].nunique() == 3
        assert b.result()["received_at"].nunique() == 3
        assert c.result()["received_at"].nunique() == 3
