"""Several symbols and ids per call on one connection, and live handles that change their
subscriptions while they run (issue 13), against the simulator over loopback."""

from __future__ import annotations

import pandas as pd
import pytest
from test_faults import audit, wait_for_pushes
from waiting import wait_until

import nexusdata as nd
from nexusdata.protocol import tables
from nexusdata.sim import Simulator
from nexusdata.sim.faults import Faults


def test_one_connection_carries_several_symbols_each_counted(fresh_sim: Simulator) -> None:
    df = nd.stream_depth(["BTCUSDT", "ETHUSDT", "SOLUSDT"], seconds=30, max_messages=30, progress=False, **fresh_sim.nexus)
    assert fresh_sim.connections_total == 1
    assert set(df["symbol"].astype(str)) == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
    counts = df.attrs["nexusdata"]["subscriptions"]
    assert [c["subscription"] for c in counts] == ["BTCUSDT depth", "ETHUSDT depth", "SOLUSDT depth"]
    assert sum(c["pushes"] for c in counts) == 30 and all(c["pushes"] > 0 and c["refused"] is None for c in counts)
    assert sum(c["rows"] for c in counts) == len(df)


def test_a_refused_symbol_ends_alone(fresh_sim: Simulator) -> None:
    df = nd.stream_depth(["BTCUSDT", "NOPEUSDT"], seconds=30, max_messages=5, progress=False, **fresh_sim.nexus)
    good, bad = df.attrs["nexusdata"]["subscriptions"]
    assert good["pushes"] == 5 and bad["pushes"] == 0 and "NOPEUSDT" in bad["refused"]
    assert any("NOPEUSDT" in w for w in df.attrs["nexusdata"]["warnings"])
    with pytest.raises(nd.SubscriptionError):  # all refused: the error, as for one
        nd.stream_depth(["NOPEUSDT", "NOPE2"], seconds=30, progress=False, **fresh_sim.nexus)


def test_several_ids_and_several_topics_on_one_connection(fresh_sim: Simulator) -> None:
    v3 = nd.collect_index("pair_index_v3", ["1", 2], seconds=30, max_messages=6, progress=False, **fresh_sim.chainext)
    assert set(v3["underlying_cid"].astype(str)) == {"1", "2"}
    frames = nd.collect_index(
        {"coin_index": ["1", "2"], "pair_index_v3": "1"}, seconds=30, max_messages=12, progress=False, **fresh_sim.chainext
    )
    assert fresh_sim.connections_total == 2  # one per call
    assert set(frames) == {"coin_index", "pair_index_v3"}
    assert set(frames["coin_index"]["cid"].astype(str)) <= {"1", "2"} and len(frames["pair_index_v3"]) > 0
    assert list(frames["pair_index_v3"].columns) == list(v3.columns)
    risk = nd.collect_risk(["BTCUSDT", "ETHUSDT"], "A", seconds=30, max_messages=8, progress=False, **fresh_sim.nexus)
    assert set(risk["symbol"].astype(str)) == {"BTCUSDT", "ETHUSDT"}


def test_several_symbols_arrive_exactly_once_across_a_forced_drop() -> None:
    with Simulator(seed=21, rate=50, record_sent=True, faults={1: Faults(drop_after=20)}) as sim:
        live = nd.live_depth(["BTCUSDT", "ETHUSDT"], **sim.nexus)
        try:
            assert sim.faults.wait_for("drop", 1, timeout=30)
            wait_for_pushes(sim, 2, 20)
            sim.stop()  # the second connection ends with a close frame behind its last push
            assert wait_until(lambda: live.feed.connection.number >= 2 and "disconnected" in set(live.events()["event"][2:]))
        finally:
            live.stop()
        delivery = audit(sim.sent, live.frame(), tables.DEPTH)
    delivery.assert_exact(aborted=(1,))
    rows = live.frame()
    for connection in (1, 2):
        assert set(rows[rows["connection"] == connection]["symbol"].astype(str)) == {"BTCUSDT", "ETHUSDT"}


def test_a_running_handle_subscribes_and_unsubscribes_and_a_reconnect_keeps_the_current_set() -> None:
    with Simulator(seed=22, rate=40, faults={1: Faults(drop_after=200)}) as sim:
        with nd.live_depth("BTCUSDT", **sim.nexus) as live:
            assert wait_until(lambda: len(live.frame()) > 0)
            assert live.subscribe(["ETHUSDT", "BTCUSDT"]) == ["ETHUSDT depth"]  # BTCUSDT was there already
            assert wait_until(lambda: "ETHUSDT" in set(live.frame()["symbol"].astype(str)))
            assert live.unsubscribe("BTCUSDT") == ["BTCUSDT depth"]
            assert wait_until(lambda: "unsubscribed" in set(live.events()["event"]))
            gaps = live.events()
            settled = gaps[gaps["event"] == "unsubscribed"]["time"].iloc[-1] + pd.Timedelta("1s")  # pushes in flight arrived
            assert wait_until(lambda: (live.frame()["received_at"] > settled).sum() > 10)
            rows = live.frame()
            late = rows[rows["received_at"] > settled]
            assert set(late["symbol"].astype(str)) == {"ETHUSDT"}  # the server stopped BTCUSDT
            assert live.subscriptions == ["ETHUSDT depth"] and "ETHUSDT depth" in repr(live)
            # the simulator drops the first connection after 200 pushes: the reconnect subscribes ETHUSDT alone
            assert wait_until(lambda: live.feed.connection.number >= 2 and (live.frame()["connection"] == 2).any())
            rows = live.frame()
            assert set(rows[rows["connection"] == 2]["symbol"].astype(str)) == {"ETHUSDT"}
            events = list(live.events()["event"])
            assert events.index("subscribed") < events.index("unsubscribed") < events.index("disconnected")
            with pytest.raises(nd.ArgumentError, match="not subscribed: XRPUSDT"):
                live.unsubscribe("XRPUSDT")
        assert sim.connections_total == 2


def test_index_handles_change_their_ids_and_the_orders_have_nothing_to_change(fresh_sim: Simulator) -> None:
    with nd.live_index("coin_index", "1", **fresh_sim.chainext) as live:
        assert live.subscribe("2") == ["coin_index 2"]
        assert wait_until(lambda: {"1", "2"} <= set(live.frame()["cid"].astype(str)))
        assert "2 subscriptions" in live.feed.status_line(live.kind)
        assert live.unsubscribe(["1"]) == ["coin_index 1"]
        assert wait_until(lambda: any(r.request == "unsubscribe coin_index 1" for r in live.feed.connection.replies_so_far()))
    with nd.live_orders(**fresh_sim.nexus) as orders, pytest.raises(nd.ArgumentError, match="nothing to add or drop"):
        orders.subscribe("BTCUSDT")
