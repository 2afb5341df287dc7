"""Replay: a recording served over both protocols, read by the unchanged collectors and live
handles, paced by the recorded gaps, and from the command line (``nexusdata sim --replay``)."""

from __future__ import annotations

import json
import math
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import websocket

import nexusdata as nd
from nexusdata.sim import Simulator

FAST = math.inf


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Depth of two symbols, pair_index_v3 and coin_index, risk of one book and child orders."""
    root = tmp_path_factory.mktemp("recording")
    with Simulator(seed=9, rate=100.0) as sim, ThreadPoolExecutor(5) as pool:
        runs = [
            pool.submit(nd.record, root, "depth", "BTCUSDT", "ETHUSDT", seconds=1, **sim.nexus),
            pool.submit(nd.record, root, "pair_index_v3", "1", seconds=1, **sim.chainext),
            pool.submit(nd.record, root, "coin_index", "0", seconds=1, **sim.chainext),
            pool.submit(nd.record, root, "risk", ("BTCUSDT", "A"), seconds=1, **sim.nexus),
            pool.submit(nd.record, root, "orders", seconds=1, rows="cp_orders", **sim.nexus),
        ]
        assert all(run.result().rows > 0 for run in runs)
    return root


def _values(df: pd.DataFrame) -> pd.DataFrame:
    """Everything but when and on which connection the rows arrived."""
    return df.drop(columns=["received_at", "connection"]).reset_index(drop=True)


def _pushes(df: pd.DataFrame) -> int:
    return df["received_at"].nunique()


Collect = Callable[[Simulator, int], pd.DataFrame]


@pytest.mark.parametrize(
    "feed, part, collect",
    [
        ("depth", {"symbol": "ETHUSDT"}, lambda rp, n: nd.stream_depth("ETHUSDT", seconds=30, max_messages=n, **rp.nexus)),
        (
            "pair_index_v3",
            {"id": "1"},
            lambda rp, n: nd.collect_index("pair_index_v3", 1, seconds=30, max_messages=n, **rp.chainext),
        ),
        ("coin_index", {"id": "0"}, lambda rp, n: nd.collect_index("coin_index", "0", seconds=30, max_messages=n, **rp.chainext)),
        ("risk", {"symbol": "BTCUSDT"}, lambda rp, n: nd.collect_risk("BTCUSDT", "A", seconds=30, max_messages=n, **rp.nexus)),
        ("cp_orders", {}, lambda rp, n: nd.collect_orders(seconds=30, max_messages=n, rows="cp_orders", **rp.nexus)),
    ],
)
def test_collectors_read_the_recorded_values(recording: Path, feed: str, part: dict[str, str], collect: Collect) -> None:
    """Every recorded push comes back, in order, with the recorded values and the collectors'
    schema: the rows are rebuilt into the wire shapes and flattened again."""
    view = {"rows": feed} if feed == "cp_orders" else {}  # an order view is chosen by rows=
    recorded = nd.read_recording(recording, "orders" if view else feed, **view, **part)
    with nd.replay(recording, speed=FAST) as rp:
        replayed = collect(rp, _pushes(recorded))
    assert replayed.dtypes.astype(str).tolist() == recorded.dtypes.astype(str).tolist()
    pd.testing.assert_frame_equal(_values(replayed), _values(recorded), check_categorical=False)


def test_depth_is_cut_to_the_levels_asked(recording: Path) -> None:
    recorded = nd.read_recording(recording, "depth", symbol="BTCUSDT")
    with nd.replay(recording, speed=FAST) as rp:
        replayed = nd.stream_depth("BTCUSDT", depth=2, seconds=30, max_messages=_pushes(recorded), **rp.nexus)
    pd.testing.assert_frame_equal(_values(replayed), _values(recorded[recorded["level"] < 2]), check_categorical=False)


def test_live_handles_run_unchanged(recording: Path) -> None:
    recorded = nd.read_recording(recording, "pair_index_v3")
    with nd.replay(recording, speed=FAST, record_sent=True) as rp, nd.live_index("pair_index_v3", "1", **rp.chainext) as live:
        assert rp.wait_for_sent(_pushes(recorded), timeout=30)
        assert live.feed.connection.ready.wait(10)
    got = live.frame()
    assert 0 < _pushes(got) <= _pushes(recorded)  # the last pushes may still be in flight at stop
    expected = recorded[recorded["received_at"].isin(recorded["received_at"].unique()[: _pushes(got)])]
    pd.testing.assert_frame_equal(_values(got), _values(expected), check_categorical=False)
    pd.testing.assert_frame_equal(
        _values(live.latest), _values(got[got["received_at"] == got["received_at"].max()]), check_categorical=False
    )


def test_replay_keeps_the_recorded_pace(recording: Path) -> None:
    """At 4x a recording spans a quarter of its time again (a lower bound only: a busy machine
    may stretch it, never shrink it)."""
    recorded = nd.read_recording(recording, "depth", symbol="ETHUSDT")
    span = recorded["received_at"].max() - recorded["received_at"].min()
    with nd.replay(recording, speed=4) as rp:
        replayed = nd.stream_depth("ETHUSDT", seconds=30, max_messages=_pushes(recorded), **rp.nexus)
    assert _pushes(replayed) == _pushes(recorded)
    assert replayed["received_at"].max() - replayed["received_at"].min() >= span / 4 * 0.8


def test_what_was_not_recorded_is_refused(recording: Path) -> None:
    with nd.replay(recording, speed=FAST) as rp:
        with pytest.raises(nd.SubscriptionError) as err:
            nd.collect_index("pair_index_v3", "0", seconds=30, **rp.chainext)
        assert err.value.code == 3007
        with pytest.raises(nd.SubscriptionError) as err:
            nd.collect_index("index", "11", seconds=30, **rp.chainext)
        assert err.value.code == 3010


@pytest.mark.parametrize(
    "quirks, refusal",
    [
        (
            None,
            {
                "action": "SUBSCRIBE",
                "event": "API_MARKETDEPTH",
                "status": "ERROR",
                "message": "LTCUSDT is not in the recording's depth",
            },
        ),
        ("refusal_code", {"code": 10003, "msg": "symbol not found"}),
        ("refusal_error", {"error": {"code": 10003, "message": "symbol not found"}}),
    ],
)
def test_an_unrecorded_symbol_is_refused_as_an_unknown_one(
    recording: Path, quirks: str | None, refusal: dict[str, object]
) -> None:
    """LTCUSDT is a symbol the simulator serves, but not in the recording: refused in the shape
    the quirks select, and nothing is pushed (the ping's answer comes next)."""
    with nd.replay(recording, speed=FAST, quirks=quirks) as rp:
        ws = websocket.create_connection(f"{rp.nexus_url}?X-API-TOKEN={rp.token}", timeout=5)
        try:
            ws.send(json.dumps({"id": "1", "action": "SUBSCRIBE", "event": "API_MARKETDEPTH", "symbol": "LTCUSDT", "depth": 5}))
            assert json.loads(ws.recv()) == {"id": "1", **refusal}
            ws.send(json.dumps({"id": "2", "action": "PING", "event": ""}))
            assert json.loads(ws.recv())["action"] == "PONG"
        finally:
            ws.close()


def _output_until(proc: subprocess.Popen[bytes], marker: str, timeout: float) -> str:
    """What ``proc`` printed until ``marker`` appeared (read straight from the pipe, so that
    waiting for more never misses text already buffered)."""
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    text = ""
    deadline = time.monotonic() + timeout
    while marker not in text:
        remaining = deadline - time.monotonic()
        assert remaining > 0 and selector.select(remaining), f"no {marker!r} in time; got {text!r}"
        chunk = os.read(proc.stdout.fileno(), 65536)
        assert chunk, f"exited before {marker!r}: {text!r}"
        text += chunk.decode()
    return text


def test_sim_command_serves_a_recording(recording: Path) -> None:
    """``nexusdata sim --replay DIR`` prints the variables to connect with; a collector reading
    them gets the recorded values."""
    recorded = nd.read_recording(recording, "depth", symbol="BTCUSDT")
    command = [sys.executable, "-m", "nexusdata.cli", "sim", "--replay", str(recording), "--speed", "inf", "--seconds", "60"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        printed = _output_until(proc, "serving", timeout=30)
        assert re.search(r"replaying .* at infx \(.*depth: BTCUSDT, ETHUSDT", printed)
        env = dict(re.findall(r"(NEXUSDATA_\w+)=(\S+)", printed))
        conn = {"url": env["NEXUSDATA_NEXUS_URL"], "token": env["NEXUSDATA_NEXUS_TOKEN"]}
        replayed = nd.stream_depth("BTCUSDT", seconds=30, max_messages=_pushes(recorded), **conn)
        pd.testing.assert_frame_equal(_values(replayed), _values(recorded), check_categorical=False)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
    assert proc.returncode == 130  # interrupted, as docs/cli.md says
