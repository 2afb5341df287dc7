"""Live handles against the simulator, over real loopback sockets."""

from __future__ import annotations

import threading

import pandas as pd
import pytest
from scripted import request, scripted, send, wait_closed
from spec_examples import load
from waiting import wait_until

import nexusdata as nd
from nexusdata.sim import Simulator


def messages(handle: nd.LiveHandle) -> int:
    return handle.stats()["messages"]


def test_live_depth_returns_before_anything_arrives(no_thread_leak: None) -> None:
    """A live handle comes back at once, to let the notebook go on: here the server holds back
    every reply and push until the handle is back (or, were the call waiting for data, until it
    gives up holding after 30 s: then the handle comes back late and the test fails)."""
    release, answered = threading.Event(), threading.Event()

    def handler(ws, number):
        request(ws)  # the subscription
        release.wait(30)
        answered.set()
        send(ws, load("nexus_push_depth"))  # a BTCUSDT book
        wait_closed(ws)

    with scripted(handler) as url:
        try:
            with nd.live_depth("BTCUSDT", url=url, token="tok-3b9f") as live:
                back_before_any_data = not answered.is_set()
                release.set()
                assert wait_until(lambda: messages(live) == 1)  # and what comes later is collected
        finally:
            release.set()
    assert back_before_any_data


def test_live_depth_collects_in_the_background(sim: Simulator, no_thread_leak: None) -> None:
    with nd.live_depth("BTCUSDT", depth=5, **sim.nexus) as live:
        assert live in nd.live_handles()
        assert wait_until(lambda: messages(live) >= 5)
        first = live.frame()
        assert wait_until(lambda: messages(live) >= len(first) // 10 + 3)
        later = live.frame()
        assert len(later) > len(first)  # keeps collecting while the notebook goes on
        reference = nd.stream_depth("BTCUSDT", seconds=10, max_messages=2, **sim.nexus)
        assert list(later.columns) == list(reference.columns)
        assert later.dtypes.astype(str).to_dict() == reference.dtypes.astype(str).to_dict()
        stats = live.stats()
        assert stats["state"] == "connected" and stats["reconnects"] == 0 and stats["malformed"] == 0
        assert stats["rate"] > 0 and stats["rows"] >= len(later)
        assert stats["last_update"] >= later["received_at"].iloc[-1] - pd.Timedelta("1ms")
    assert not live.running and live not in nd.live_handles()
    assert live.stats()["state"] == "stopped"
    final = live.frame()  # still readable after stop
    book = live.latest
    assert len(book) == 10 and set(book["side"]) == {"bid", "ask"} and set(book["level"]) == set(range(5))
    pd.testing.assert_frame_equal(book.reset_index(drop=True), final.tail(10).reset_index(drop=True), check_categorical=False)


def test_rerunning_the_same_cell_replaces_the_handle(fresh_sim: Simulator, no_thread_leak: None) -> None:
    first = nd.live_depth("BTCUSDT", **fresh_sim.nexus)
    assert fresh_sim.wait_for_connections(1, timeout=10)
    second = nd.live_depth("BTCUSDT", **fresh_sim.nexus)  # the cell, run again
    try:
        assert not first.running and first.stats()["state"] == "stopped"
        assert nd.live_handles() == [second]
        assert wait_until(lambda: fresh_sim.connections_total == 2 and fresh_sim.connection_count == 1)
        other = nd.live_depth("ETHUSDT", **fresh_sim.nexus)  # another subscription runs beside it
        assert wait_until(lambda: fresh_sim.connection_count == 2)
        assert nd.live_handles() == [second, other] and second.running
    finally:
        assert nd.stop_live() == 2
    assert wait_until(lambda: fresh_sim.connection_count == 0)


def test_max_rows_keeps_the_newest_rows(sim: Simulator, no_thread_leak: None) -> None:
    with nd.live_depth("BTCUSDT", max_rows=35, **sim.nexus) as live:
        assert wait_until(lambda: messages(live) >= 8)
    frame = live.frame()
    assert len(frame) == 35 and live.stats()["messages"] * 10 > 35
    assert frame["received_at"].is_monotonic_increasing
    pd.testing.assert_frame_equal(
        frame.tail(10).reset_index(drop=True), live.latest.reset_index(drop=True), check_categorical=False
    )


def test_reconnects_are_counted_and_collection_goes_on(fresh_sim: Simulator, no_thread_leak: None) -> None:
    with nd.live_index("coin_index", "1", backoff_base=0.05, **fresh_sim.chainext) as live:
        assert wait_until(lambda: messages(live) >= 3)
        assert fresh_sim.drop_connections() == 1
        assert wait_until(lambda: live.stats()["reconnects"] == 1 and live.stats()["state"] == "connected")
        before = messages(live)
        assert wait_until(lambda: messages(live) > before + 2)
        frame = live.frame()
    assert set(frame["connection"]) == {1, 2}
    assert list(live.events()["event"]) == ["connected", "disconnected", "connected", "closed"]


@pytest.mark.parametrize(
    "start, collect",
    [
        (
            lambda s: nd.live_orders(rows="executions", **s.nexus),
            lambda s: nd.collect_orders(10, max_messages=2, rows="executions", **s.nexus),
        ),
        (
            lambda s: nd.live_risk("BTCUSDT", "A", **s.nexus),
            lambda s: nd.collect_risk("BTCUSDT", "A", 10, max_messages=2, **s.nexus),
        ),
        (
            lambda s: nd.live_index("pair_index_v3", 1, **s.chainext),
            lambda s: nd.collect_index("pair_index_v3", 1, 10, max_messages=2, **s.chainext),
        ),
    ],
)
def test_every_feed_has_a_live_handle(sim: Simulator, start, collect, no_thread_leak: None) -> None:
    with start(sim) as live:
        assert wait_until(lambda: messages(live) >= 2)
    frame, latest = live.frame(), live.latest
    reference = collect(sim)
    assert list(frame.columns) == list(reference.columns) == list(latest.columns)
    assert len(latest) >= 1 and latest["received_at"].nunique() == 1
    assert latest["received_at"].iloc[0] == frame["received_at"].iloc[-1]


def test_status_in_repr_and_html_never_shows_secrets(sim: Simulator, no_thread_leak: None) -> None:
    with nd.live_index("pair_index_v3", "1", **sim.chainext) as v3, nd.live_depth("BTCUSDT", **sim.nexus) as depth:
        assert wait_until(lambda: messages(v3) >= 2 and messages(depth) >= 2)
        for handle in (v3, depth):
            text, page = repr(handle), handle._repr_html_()
            for shown in (text, page):
                assert "connected" in shown and "messages" in shown and "last update" in shown
                assert sim.token not in shown and sim.api_secret not in shown
            assert "pushes/s" in page and "rows" in page and "newest 1,000,000 kept" in page
        assert "X-API-TOKEN=***" in repr(depth)


def test_refused_credentials_fail_the_handle(sim: Simulator, no_thread_leak: None) -> None:
    live = nd.live_depth("BTCUSDT", url=sim.nexus_url, token="not-the-token")
    assert live.feed.finished.wait(10)
    assert isinstance(live.error, nd.AuthenticationError)
    with pytest.raises(nd.AuthenticationError):
        live.frame()
    assert live.stats()["state"] == "failed"
    page = live._repr_html_()
    assert "failed" in page and "AuthenticationError" in page and "not-the-token" not in page + repr(live)
    live.stop()
    assert live not in nd.live_handles()
