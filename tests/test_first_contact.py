"""First contact with a real server: what the documents leave open, against loopback servers the
tests script themselves (``scripted.py``), and the failures that used to end in a silent empty
DataFrame. Each case of issue 10's list is here; each failed before the change."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from scripted import request, scripted, send, wait_closed
from spec_examples import load
from waiting import giving_up, wait_until, well_before

import nexusdata as nd
from nexusdata.protocol import chainext
from nexusdata.sim import Simulator

COIN_PUSH = load("chainext_push_coin_index")
DEPTH_PUSH = load("nexus_push_depth")
FAST = {"progress": False, "connect_timeout": 2.0, "backoff_base": 0.05, "backoff_cap": 0.2}


def chainext_server(reply_code: object = 2001, login_op: str = "loginResponse", pushes: int = 20, batch: bool = False):
    """A ChaiNext server that logs in and subscribes with ``reply_code`` (as sent) and then
    pushes ``pushes`` coin_index pushes (all in one ``args`` list when ``batch``)."""

    def handler(ws, number):
        login = request(ws)
        assert login["op"] == "login"
        send(ws, {"op": login_op, "args": {"info": "success", "code": reply_code}})
        sub = request(ws)
        args = {"topic": sub["args"]["topic"], "id": sub["args"]["id"], "info": "success", "code": reply_code}
        send(ws, {"op": "subscribeResponse", "args": args})
        items = [dict(COIN_PUSH["args"], latest=str(100 + i)) for i in range(pushes)]
        if batch:
            send(ws, {"op": "coin_index", "args": items})
        for item in [] if batch else items:
            send(ws, {"op": "coin_index", "args": item})
        wait_closed(ws)

    return handler


def test_a_nexus_refusal_by_code_and_msg_raises_a_subscription_error() -> None:
    """The issue's first case: ``{"id", "code": 10003, "msg": "symbol not found"}`` and then
    nothing used to give an empty DataFrame with no trace of the reply."""

    def handler(ws, number):
        sub = request(ws)
        send(ws, {"id": sub["id"], "code": 10003, "msg": "symbol not found"})
        wait_closed(ws)

    with scripted(handler) as url:
        with well_before(30), pytest.raises(nd.SubscriptionError) as refused:  # raised at once, not at the run's end
            nd.stream_depth("NOSUCH", seconds=30, url=url, token="tok-3b9f", **FAST)
    assert refused.value.code == 10003 and refused.value.info == "symbol not found"
    assert "NOSUCH" in str(refused.value) and "symbol" in str(refused.value)


@pytest.mark.parametrize(
    "refusal",
    [
        {"error": {"code": 10003, "message": "symbol not found"}},
        {"status": "ERROR", "message": "unknown symbol"},
        {"success": False, "reason": "no permission"},
        {"code": "10003", "msg": "symbol not found"},
    ],
    ids=["error-object", "status-error", "success-false", "string-code"],
)
def test_nexus_refusals_in_other_shapes_raise_too(refusal: dict) -> None:
    def handler(ws, number):
        sub = request(ws)
        send(ws, {"id": sub["id"], **refusal})
        wait_closed(ws)

    with scripted(handler) as url, pytest.raises(nd.SubscriptionError):
        nd.stream_depth("NOSUCH", seconds=30, url=url, token="tok-3b9f", **FAST)


def test_a_silent_nexus_subscription_is_explained_not_empty_and_mute() -> None:
    def handler(ws, number):
        request(ws)  # never answered
        wait_closed(ws)

    with scripted(handler) as url:
        df = nd.stream_depth("NOSUCH", seconds=1, url=url, token="tok-3b9f", **FAST)
    assert df.empty
    (warning,) = df.attrs["nexusdata"]["warnings"]
    assert "no push arrived" in warning and "symbol" in warning


def test_a_silent_subscription_is_reported_after_a_few_seconds() -> None:
    def handler(ws, number):
        request(ws)
        wait_closed(ws)

    with scripted(handler) as url:
        df = nd.stream_depth("NOSUCH", seconds=6, url=url, token="tok-3b9f", **FAST)
    gaps = nd.gap_log(df)
    silent = gaps[gaps["event"] == "silent"]["reason"].tolist()
    assert len(silent) == 1 and "NOSUCH" in silent[0] and "permission" in silent[0]
    assert df.attrs["nexusdata"]["warnings"] == silent


@pytest.mark.parametrize("code", ["2001", 2001.0, "3002"])
def test_chainext_codes_as_numeric_strings_log_in_and_subscribe(code: object) -> None:
    """The issue's second case: ``"code": "2001"`` was refused as ``None success``."""
    with scripted(chainext_server(code, pushes=5)) as url:
        df = nd.collect_index("coin_index", "0", seconds=10, max_messages=5, url=url, api_key="k", api_secret="s", **FAST)
    assert len(df) == 5 and df["latest"].tolist() == [100.0, 101.0, 102.0, 103.0, 104.0]
    replies = df.attrs["nexusdata"]["replies"]
    assert [r["request"] for r in replies[:2]] == ["login", "subscribe coin_index 0"]
    assert all(r["outcome"] == "ok" for r in replies[:2])


def test_success_by_info_alone_with_an_undocumented_code() -> None:
    with scripted(chainext_server(9999, pushes=3)) as url:
        df = nd.collect_index("coin_index", "0", seconds=10, max_messages=3, url=url, api_key="k", api_secret="s", **FAST)
    assert len(df) == 3


@pytest.mark.parametrize("op", ["login", "login_response", "LoginAck", "auth"])
def test_a_login_reply_under_another_op_logs_in(op: str) -> None:
    with scripted(chainext_server(login_op=op, pushes=3)) as url:
        df = nd.collect_index("coin_index", "0", seconds=10, max_messages=3, url=url, api_key="k", api_secret="s", **FAST)
    assert len(df) == 3 and df.attrs["nexusdata"]["replies"][0]["request"] == "login"


def test_args_as_a_list_is_several_pushes() -> None:
    with scripted(chainext_server(pushes=4, batch=True)) as url:
        df = nd.collect_index("coin_index", "0", seconds=10, max_messages=4, url=url, api_key="k", api_secret="s", **FAST)
    assert df["latest"].tolist() == [100.0, 101.0, 102.0, 103.0]
    assert df.attrs["nexusdata"]["messages"] == 4 and df.attrs["nexusdata"]["malformed"] == 0


def test_nexus_data_as_a_list_of_books_is_several_pushes() -> None:
    def handler(ws, number):
        request(ws)
        books = [copy.deepcopy(DEPTH_PUSH["data"]) for _ in range(3)]
        send(ws, {"event": "API_MARKETDEPTH", "data": books})
        wait_closed(ws)

    with scripted(handler) as url:
        df = nd.stream_depth("BTCUSDT", seconds=10, max_messages=3, url=url, token="tok-3b9f", **FAST)
    assert df["received_at"].size == 3 * len(DEPTH_PUSH["data"]["asks"] + DEPTH_PUSH["data"]["bids"])
    assert df.attrs["nexusdata"]["messages"] == 3


def test_a_reply_that_starts_like_a_push_is_not_counted_as_one() -> None:
    def handler(ws, number):
        request(ws)
        send(ws, {"op": "loginResponse", "args": {"code": 2001, "info": "success"}})
        sub = request(ws)
        send(ws, {"op": "coin_index", "args": {**sub["args"], "code": 2001, "info": "success"}})
        for i in range(3):
            send(ws, {"op": "coin_index", "args": dict(COIN_PUSH["args"], latest=str(i))})
        wait_closed(ws)

    with scripted(handler) as url:
        df = nd.collect_index("coin_index", "0", seconds=10, max_messages=3, url=url, api_key="k", api_secret="s", **FAST)
    assert df["latest"].tolist() == [0.0, 1.0, 2.0] and df["cid"].notna().all()


@pytest.mark.parametrize("factor", [1_000, 1_000_000], ids=["micro", "nano"])
def test_times_in_micro_or_nanoseconds_are_times_not_nat(factor: int) -> None:
    ms = load("chainext_push_coin_index_v3")["args"]["updateTime"]

    def handler(ws, number):
        request(ws)
        send(ws, {"op": "loginResponse", "args": {"code": 2001, "info": "success"}})
        request(ws)
        send(ws, {"op": "subscribeResponse", "args": {"code": 2001, "info": "success"}})
        args = dict(load("chainext_push_coin_index_v3")["args"])
        args["updateTime"] = args["updateTime"] * factor
        send(ws, {"op": "coin_index_v3", "args": args})
        wait_closed(ws)

    with scripted(handler) as url:
        df = nd.collect_index("coin_index_v3", "1", seconds=10, max_messages=1, url=url, api_key="k", api_secret="s", **FAST)
    assert df["update_time"].iloc[0] == pd.Timestamp(ms, unit="ms", tz="UTC")


def test_2004_answering_a_relogin_logs_in_afresh_on_a_new_connection() -> None:
    def handler(ws, number):
        request(ws)
        send(ws, {"op": "loginResponse", "args": {"code": 2001, "info": "success"}})
        sub = request(ws)
        send(ws, {"op": "subscribeResponse", "args": {**sub["args"], "code": 2001, "info": "success"}})
        if number == 1:
            send(ws, {"op": "coin_index", "args": dict(COIN_PUSH["args"], latest="1")})
            send(ws, {"op": "error", "args": {"code": 2010, "info": "login status error, please login again"}})
            assert request(ws)["op"] == "login"
            send(ws, {"op": "loginResponse", "args": {"code": 2004, "info": "double login"}})
        else:
            send(ws, {"op": "coin_index", "args": dict(COIN_PUSH["args"], latest="2")})
        wait_closed(ws)

    with scripted(handler) as url:
        df = nd.collect_index("coin_index", "0", seconds=10, max_messages=2, url=url, api_key="k", api_secret="s", **FAST)
    assert df["latest"].tolist() == [1.0, 2.0] and df["connection"].tolist() == [1, 2]
    assert any("2004" in g["reason"] for g in df.attrs["nexusdata"]["gaps"] if g["event"] == "disconnected")


def test_a_refused_id_ends_only_itself_in_a_recording(tmp_path: Path) -> None:
    with Simulator(seed=3, rate=50) as sim:
        summary = nd.record(tmp_path, "coin_index", "0", "999", seconds=2, progress=False, **sim.chainext)
    assert summary.rows > 0 and nd.read_recording(tmp_path, "coin_index")["cid"].unique().tolist() == ["0"]
    (refusal,) = summary.refused
    assert "999" in refusal and "3007" in refusal and "refused" in str(summary)
    outcomes = {r["request"]: r["outcome"] for r in summary.replies}
    assert outcomes["subscribe coin_index 0"] == "ok" and outcomes["subscribe coin_index 999"] == "refused"
    assert [g["event"] for g in summary.gaps][:1] == ["connected"]


def test_a_closed_port_raises_whatever_the_seconds() -> None:
    with Simulator() as sim:
        url = sim.nexus_url  # the port is closed once the simulator stops
    with well_before(giving_up()), pytest.raises(nd.ConnectionFailedError) as failed:  # at the run's end, not after every retry
        nd.stream_depth("BTCUSDT", seconds=1, url=url, token="tok-3b9f", progress=False)
    assert "connection refused: nothing listens on" in str(failed.value)
    assert failed.value.frame is not None and failed.value.frame.empty


def test_a_wrong_path_is_a_404_raised_at_once_with_a_hint(sim: Simulator) -> None:
    with well_before(30), pytest.raises(nd.ConnectionFailedError) as failed:  # raised at once, not at the run's end
        nd.stream_depth("BTCUSDT", seconds=30, url=sim.nexus_url.replace("/api/realtime", "/api/v2"), token=sim.token, **FAST)
    message = str(failed.value)
    assert "HTTP 404 Not Found" in message and "/api/realtime" in message and sim.token not in message
    assert "-+-+-" not in message  # no raw response headers


def test_the_other_feeds_url_is_named(sim: Simulator) -> None:
    with pytest.raises(nd.ConnectionFailedError, match="looks like a ChaiNext server"):
        nd.stream_depth("BTCUSDT", seconds=30, url=sim.chainext_url, token=sim.token, **FAST)
    with pytest.raises(nd.ConnectionFailedError, match="not a ChaiNext endpoint"):
        nd.collect_index("coin_index", "1", seconds=30, url=sim.nexus_url, api_key=sim.api_key, api_secret=sim.api_secret, **FAST)


def test_a_bare_chainext_host_means_its_websocket_path(sim: Simulator) -> None:
    bare = sim.chainext_url.removesuffix(chainext_path := "/websocket")
    assert chainext_path == "/websocket"
    df = nd.collect_index(
        "coin_index", "1", seconds=10, max_messages=2, url=bare, api_key=sim.api_key, api_secret=sim.api_secret, **FAST
    )
    assert len(df) == 2


def test_a_host_name_that_does_not_resolve_is_named() -> None:
    """Run in a network namespace of its own (``unshare -n``), so the name lookup fails on this
    machine and no query leaves it."""
    code = (
        "import nexusdata as nd\n"
        "try:\n"
        "    nd.stream_depth('BTCUSDT', seconds=1, url='ws://no-such-host.invalid', token='tok-3b9f', progress=False)\n"
        "except nd.ConnectionFailedError as e:\n"
        "    print(e)\n"
    )
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-500:]
    assert "host name 'no-such-host.invalid'" in done.stdout and "DNS" in done.stdout


def test_ctrl_c_returns_the_rows_and_a_second_one_stops_the_script(sim: Simulator, stop_button) -> None:
    threading.Timer(0.5, stop_button).start()
    df = nd.stream_depth("BTCUSDT", seconds=30, **sim.nexus, progress=False)
    assert df.attrs["nexusdata"]["interrupted"] is True and len(df) > 0
    threading.Timer(0.5, stop_button).start()
    with pytest.raises(KeyboardInterrupt):
        nd.stream_depth("BTCUSDT", seconds=30, **sim.nexus, progress=False)
    assert nd.stream_depth("BTCUSDT", seconds=0.3, **sim.nexus, progress=False).attrs["nexusdata"]["interrupted"] is False


def test_every_reply_is_in_the_reply_log_with_secrets_scrubbed(sim: Simulator) -> None:
    df = nd.collect_index("pair_index_v3", "1", seconds=10, max_messages=3, **sim.chainext, progress=False)
    replies = df.attrs["nexusdata"]["replies"]
    assert [r["request"] for r in replies] == ["login", "subscribe pair_index_v3 1", "unsubscribe pair_index_v3 1", "logout"]
    assert all(r["outcome"] == "ok" and r["code"] == chainext.SUCCESS for r in replies)
    assert sim.api_secret not in json.dumps(replies)
    with nd.live_depth("BTCUSDT", **sim.nexus) as live:
        assert live.feed.finished.wait(0) is False
        assert wait_until(lambda: not live.replies().empty)
        log = live.replies()
    assert log["request"].tolist()[:1] == ["subscribe API_MARKETDEPTH BTCUSDT"] and log["outcome"].iloc[0] == "ok"
    assert sim.token not in log.to_string()


QUIRKS = ["string_codes", "reply_ops", "batched", "fragmented", "pretty", "extra_fields", "micro_times"]


@pytest.mark.parametrize("quirk", QUIRKS)
def test_the_client_reads_every_quirk_of_the_simulator(quirk: str) -> None:
    with Simulator(seed=5, rate=50, quirks=quirk) as sim:
        depth = nd.stream_depth("BTCUSDT", seconds=10, max_messages=6, **sim.nexus, progress=False)
        v3 = nd.collect_index("pair_index_v3", "1", seconds=10, max_messages=6, **sim.chainext, progress=False)
    for df in (depth, v3):
        stats = df.attrs["nexusdata"]
        assert stats["messages"] == 6 and stats["malformed"] == 0 and stats["unknown"] == 0
        assert df["received_at"].nunique() >= 1 and not df.attrs["nexusdata"]["warnings"]
    assert depth["time"].notna().all() and v3["coin_update_time"].notna().all()
    assert depth["time"].dt.year.min() >= 2026 and v3["coin_update_time"].dt.year.min() >= 2026


@pytest.mark.parametrize("quirks", [None, "refusal_code", "refusal_error"])
def test_the_simulator_refuses_a_typo_in_each_shape(quirks: str | None) -> None:
    with Simulator(quirks=quirks) as sim, pytest.raises(nd.SubscriptionError, match="FOOBAR"):
        nd.stream_depth("FOOBAR", seconds=30, **sim.nexus, progress=False)


def test_2004_on_relogin_from_the_simulator() -> None:
    from nexusdata.sim.faults import Faults

    with Simulator(rate=50, quirks="relogin_2004", faults={1: Faults(expire_after=3)}) as sim:
        df = nd.collect_index("coin_index", "1", seconds=10, max_messages=6, **sim.chainext, progress=False, backoff_base=0.05)
    assert df["connection"].tolist()[:3] == [1, 1, 1] and 2 in df["connection"].tolist()


def test_a_clock_off_by_more_than_the_window_is_named_by_the_servers_date_header() -> None:
    """The simulator's clock is 15 minutes ahead (its Date header too): the refused signature
    says this machine's clock is behind by about that much."""
    with Simulator(clock_skew=900) as sim, pytest.raises(nd.AuthenticationError) as refused:
        nd.collect_index("coin_index", "1", seconds=10, **sim.chainext, progress=False)
    message = str(refused.value)
    assert refused.value.code == 2012 and "behind the server's" in message and "NTP" in message
    seconds = int(message.split("clock is ")[1].split("s ")[0])
    assert 890 <= seconds <= 910


def test_the_status_line_shows_the_newest_warning() -> None:
    def handler(ws, number):
        request(ws)
        wait_closed(ws)

    with scripted(handler) as url, nd.live_depth("NOSUCH", url=url, token="tok-3b9f", max_failures=1) as live:
        assert wait_until(lambda: live.stats()["warning"] is not None)
        assert "warning: Nexus sent no push and no reply for API_MARKETDEPTH NOSUCH" in repr(live)
        assert "NOSUCH" in live._repr_html_()
