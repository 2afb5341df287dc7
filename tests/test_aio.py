"""The asyncio forms of the collectors and live handles (issue 21), against the simulator over
loopback: the event loop runs on while they collect, they return what the blocking calls return,
and cancelling one stops its feed cleanly before the cancellation goes on, leaving no thread."""

from __future__ import annotations

import asyncio
import inspect
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from waiting import WAIT, wait_until, well_before

import nexusdata as nd
from nexusdata.sim import Simulator

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[1]
TICK = 0.1
"""The ticker's period: a loop blocked by a call would tick once at most while it collects."""


def nexusdata_threads() -> set[threading.Thread]:
    """The client's threads running now (the simulator's are left out)."""
    return {t for t in threading.enumerate() if t.name.startswith("nexusdata") and not t.name.startswith("nexusdata-sim")}


async def ticking(call: Awaitable[Any]) -> tuple[Any, int, float]:
    """Await ``call`` while a task ticks every :data:`TICK` seconds: its result, the ticks and
    the seconds it took."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(TICK)  # the behaviour under test: a loop that is free to tick
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    try:
        result = await call
    finally:
        task.cancel()
    return result, ticks, time.monotonic() - started


def contents(df: pd.DataFrame) -> pd.DataFrame:
    """What a seeded simulator sends alike on every run: the rows without their clock readings."""
    return df.drop(columns=["received_at", "time"])


def test_the_loop_ticks_while_astream_depth_collects_what_stream_depth_collects() -> None:
    """Two simulators with one seed send the same books: the asyncio call returns the blocking
    call's DataFrame (clock readings aside), while a ticker on the loop keeps ticking."""
    with Simulator(seed=5, rate=20) as sim:
        df, ticks, took = asyncio.run(
            ticking(nd.astream_depth("BTCUSDT", seconds=30, max_messages=20, progress=False, **sim.nexus))
        )
    with Simulator(seed=5, rate=20) as sim:
        blocking = nd.stream_depth("BTCUSDT", seconds=30, max_messages=20, progress=False, **sim.nexus)
    assert took > 0.5 and ticks >= int(took / TICK) // 2, (ticks, took)  # 20 pushes at 20/s: about 10 ticks
    assert list(df.columns) == list(blocking.columns) and list(df.dtypes.astype(str)) == list(blocking.dtypes.astype(str))
    assert len(df) == len(blocking) == 200
    pd.testing.assert_frame_equal(contents(df), contents(blocking), check_categorical=False)  # category order: as typed
    ours, theirs = df.attrs["nexusdata"], blocking.attrs["nexusdata"]
    assert ours.keys() == theirs.keys() and ours["messages"] == theirs["messages"] == 20
    assert ours["subscriptions"][0]["pushes"] == 20 and not ours["interrupted"]


BLOCKING_AND_ASYNC: list[tuple[str, Callable[..., Any], Callable[..., Awaitable[Any]], tuple[Any, ...], str]] = [
    ("orders", nd.collect_orders, nd.acollect_orders, (), "nexus"),
    ("executions", lambda **kw: nd.collect_orders(rows="executions", **kw), lambda **kw: nd.acollect_orders(rows="executions", **kw), (), "nexus"),
    ("risk", nd.collect_risk, nd.acollect_risk, (["BTCUSDT", "ETHUSDT"], "A"), "nexus"),
    ("pair_index_v3", nd.collect_index, nd.acollect_index, ("pair_index_v3", "1"), "chainext"),
    ("topics", nd.collect_index, nd.acollect_index, ({"coin_index": ["1", "2"], "index": "11"},), "chainext"),
]  # fmt: skip


@pytest.mark.parametrize(
    "name, blocking, asynchronous, args, service", BLOCKING_AND_ASYNC, ids=[c[0] for c in BLOCKING_AND_ASYNC]
)
def test_each_asyncio_collector_returns_what_its_blocking_call_returns(
    sim: Simulator,
    name: str,
    blocking: Callable[..., Any],
    asynchronous: Callable[..., Awaitable[Any]],
    args: tuple[Any, ...],
    service: str,
) -> None:
    conn = {"seconds": 30, "max_messages": 4, "progress": False, **(sim.nexus if service == "nexus" else sim.chainext)}
    ours, theirs = asyncio.run(asynchronous(*args, **conn)), blocking(*args, **conn)
    if isinstance(theirs, dict):  # a mapping of topics: a dict of DataFrames
        assert ours.keys() == theirs.keys()
    else:
        ours, theirs = {name: ours}, {name: theirs}
    for topic in theirs:
        assert list(ours[topic].columns) == list(theirs[topic].columns), topic
        assert list(ours[topic].dtypes.astype(str)) == list(theirs[topic].dtypes.astype(str)), topic
        assert ours[topic].attrs["nexusdata"].keys() == theirs[topic].attrs["nexusdata"].keys()
    assert sum(df.attrs["nexusdata"]["messages"] for df in ours.values()) == 4 * len(ours)  # each its max_messages


def test_the_asyncio_collectors_take_the_blocking_calls_arguments() -> None:
    pairs = [(nd.stream_depth, nd.astream_depth), (nd.collect_orders, nd.acollect_orders)]
    pairs += [(nd.collect_risk, nd.acollect_risk), (nd.collect_index, nd.acollect_index)]
    for blocking, asynchronous in pairs:
        assert inspect.iscoroutinefunction(asynchronous), asynchronous
        assert inspect.signature(asynchronous) == inspect.signature(blocking), asynchronous.__name__
    with pytest.warns(DeprecationWarning, match="astream_depth: pass seconds= by keyword"):
        with pytest.raises(nd.ArgumentError, match="seconds"):  # as stream_depth: a warning, then the checks
            asyncio.run(nd.astream_depth("BTCUSDT", 0, url="ws://127.0.0.1:1", token="t"))


@pytest.mark.parametrize("how", ["wait_for", "task.cancel"])
def test_cancelling_stops_the_feed_cleanly_and_leaves_no_thread(fresh_sim: Simulator, how: str) -> None:
    """Cancelled (a timeout or task.cancel), the call stops its feed (unsubscribe, close, thread
    joined) before CancelledError goes on: no client thread is left when it has been raised, the
    server sees the connection closed, and the loop's own threads are gone after asyncio.run."""
    threads = threading.active_count()

    async def main() -> None:
        collecting = nd.astream_depth("BTCUSDT", seconds=60, progress=False, **fresh_sim.nexus)
        if how == "wait_for":
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(collecting, timeout=1.0)
        else:
            task = asyncio.create_task(collecting)
            assert await asyncio.get_running_loop().run_in_executor(None, fresh_sim.wait_for_sent, 5, WAIT)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert not nexusdata_threads()

    with well_before(60):
        asyncio.run(main())
    assert fresh_sim.connections_total == 1 and wait_until(lambda: fresh_sim.connection_count == 0)
    assert threading.active_count() == threads


CHILD = """
import asyncio, logging, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job inherits SIGINT ignored
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
import nexusdata as nd
asyncio.run(nd.astream_depth("BTCUSDT", seconds=60, progress=False, url=sys.argv[1], token=sys.argv[2]))
"""


def test_ctrl_c_under_asyncio_run_stops_the_feed_cleanly(fresh_sim: Simulator, tmp_path: Path) -> None:
    """A script's Ctrl-C: asyncio.run cancels the main task, the call closes its connection as a
    stop does (the connection's log says so) and the script ends with KeyboardInterrupt at once."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, fresh_sim.nexus["url"], fresh_sim.nexus["token"]],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert fresh_sim.wait_for_sent(5, timeout=WAIT)
        with well_before(60):
            child.send_signal(signal.SIGINT)
            out, err = child.communicate(timeout=WAIT)
    finally:
        child.kill()
    assert child.returncode != 0 and "KeyboardInterrupt" in err, err
    assert "closed (connection 1): stopped by the caller" in out, out
    assert wait_until(lambda: fresh_sim.connection_count == 0)


def test_async_with_and_async_for_a_live_handle(sim: Simulator, no_thread_leak: None) -> None:
    """``async with`` stops the handle on the loop; ``async for`` yields batches as they come,
    while the loop ticks."""

    async def main() -> tuple[list[pd.DataFrame], pd.DataFrame]:
        async with nd.live_depth("BTCUSDT", **sim.nexus) as live:
            batches = []
            async for batch in live.batches(rows=50):
                batches.append(batch)
                if len(batches) == 6:
                    break
            held = live.frame()
        assert not live.running and not nexusdata_threads()
        return batches, held

    (batches, held), ticks, took = asyncio.run(ticking(main()))
    assert took > 0.3 and ticks >= int(took / TICK) // 2, (ticks, took)  # 6 batches of 5 pushes at 50/s: about 6 ticks
    assert [len(b) >= 50 for b in batches] == [True] * 6
    assert all(list(b.dtypes.astype(str)) == list(held.dtypes.astype(str)) for b in batches)
    assert [b.attrs["nexusdata"]["first_row"] for b in batches] == [sum(len(b) for b in batches[:i]) for i in range(6)]


def test_the_example_script_runs(tmp_path: Path) -> None:
    """examples/script.py, as a user runs it: against its own simulator, to the end."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "script.py")], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "collected" in out and "heartbeats while collecting" in out, out
    assert out.count("batch ") >= 3 and "callback saw" in out and "done" in out, out
