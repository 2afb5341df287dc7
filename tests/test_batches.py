"""Reacting to data on live handles (issue 21): batches (``for``, ``async for``) and callbacks
(``on_batch``), against the simulator over loopback. What they deliver is audited row by row
against what the simulator sent (tests/test_faults.py's audit), across a forced drop; a reader
slower than the data keeps memory bounded and counts what it lost; a callback's exceptions are
reported and the feed goes on."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import pandas as pd
import pytest
from test_faults import FAST, audit, pushes_on, wait_for_pushes
from waiting import WAIT, wait_until

import nexusdata as nd
from nexusdata.protocol import tables
from nexusdata.sim import Simulator
from nexusdata.sim.faults import Faults

pytestmark = pytest.mark.timeout(60)

ROWS_PER_PUSH = 10  # a depth push of 5 levels: 5 bids and 5 asks


def drop_then_close(sim: Simulator, live: nd.LiveHandle) -> None:
    """The simulator drops connection 1 after 20 pushes (no close frame); once connection 2 has
    sent 20 pushes it stops, ending connection 2 with a close frame behind its last push; this
    returns when the client has seen that close, so every push sent has arrived."""
    assert sim.faults.wait_for("drop", 1, timeout=WAIT)
    wait_for_pushes(sim, 2, 20)
    sim.stop()
    assert wait_until(lambda: live.feed.connection.number >= 2 and "disconnected" in set(live.events()["event"][2:]))


def consume_in_a_thread(live: nd.LiveHandle, got: list[pd.DataFrame]) -> Callable[[], None]:
    """``for batch in live.batches(every=0.1)`` in a thread of the test's; returns what stops the
    handle and waits for the loop to end (it ends when the handle stops)."""
    reader = threading.Thread(target=lambda: got.extend(live.batches(every=0.1)), name="test-reader")
    reader.start()

    def stop() -> None:
        live.stop()
        reader.join(WAIT)
        assert not reader.is_alive()

    return stop


def consume_on_a_loop(live: nd.LiveHandle, got: list[pd.DataFrame], sim: Simulator) -> None:
    """``async for batch in live.batches(rows=40)`` in a task while the test waits for the drop
    (in the loop's executor); leaving ``async with`` stops the handle and ends the loop."""

    async def main() -> None:
        async with live:

            async def read() -> None:
                async for batch in live.batches(rows=40):
                    got.append(batch)

            reading = asyncio.create_task(read())
            await asyncio.get_running_loop().run_in_executor(None, drop_then_close, sim, live)
        await asyncio.wait_for(reading, WAIT)

    asyncio.run(main())


@pytest.mark.parametrize("consumer", ["for", "async for", "on_batch"])
def test_batches_deliver_every_push_exactly_once_across_a_forced_drop(consumer: str, no_thread_leak: None) -> None:
    got: list[pd.DataFrame] = []
    with Simulator(seed=21, rate=50, record_sent=True, faults={1: Faults(drop_after=20)}) as sim:
        live = nd.live_depth("BTCUSDT", **sim.nexus, **FAST)
        try:
            if consumer == "for":
                stop = consume_in_a_thread(live, got)
                drop_then_close(sim, live)
                stop()
            elif consumer == "async for":
                consume_on_a_loop(live, got, sim)
            else:
                callback = live.on_batch(got.append, every=0.3, rows=30)
                drop_then_close(sim, live)
                live.stop()  # the callback takes the last batch before this returns
                assert not callback.running and (callback.calls, callback.errors) == (len(got), 0)
        finally:
            live.stop()
        sent = sim.sent
    delivered = pd.concat(got, ignore_index=True)
    audit(sent, delivered, tables.DEPTH).assert_exact(aborted=(1,))
    assert pushes_on(sim, 1) == 20 and set(delivered["connection"]) == {1, 2}
    held = live.frame()
    assert len(delivered) == len(held) == (pushes_on(sim, 1) + pushes_on(sim, 2)) * ROWS_PER_PUSH  # nothing lost or repeated
    assert all(list(batch.dtypes.astype(str)) == list(held.dtypes.astype(str)) for batch in got)
    first_rows = [batch.attrs["nexusdata"]["first_row"] for batch in got]
    assert first_rows == [sum(len(b) for b in got[:i]) for i in range(len(got))]
    assert [batch.attrs["nexusdata"]["dropped"] for batch in got] == [0] * len(got)
    assert [batch.attrs["nexusdata"]["number"] for batch in got] == list(range(1, len(got) + 1))
    if consumer == "async for":  # rows=40 alone: every batch but the last waited for 40 rows
        assert all(len(batch) >= 40 for batch in got[:-1]) and len(got) > 3


def test_a_slow_reader_keeps_memory_bounded_and_counts_what_it_lost(no_thread_leak: None) -> None:
    """A reader that falls behind does not hold rows back: the handle keeps its newest max_rows
    (95: a bound that cuts a push in two), no batch is larger, and the rows the reader never got
    are counted in the next batch; what it got is whole pushes, in order, none twice."""
    got: list[pd.DataFrame] = []
    with Simulator(seed=23, rate=100, record_sent=True) as sim:
        with nd.live_depth("BTCUSDT", max_rows=95, **sim.nexus) as live:
            reader = live.batches(rows=1)
            for batch in reader:
                got.append(batch)
                assert len(batch) <= 95 and live.stats()["rows"] <= 95
                if len(got) == 5:
                    break
                seen = live.feed.accepted  # slow: 30 more pushes (300 rows) arrive before the next batch
                assert wait_until(lambda seen=seen: live.feed.accepted >= seen + 30)
        delivery = audit(sim.sent, pd.concat(got, ignore_index=True), tables.DEPTH)
    dropped = [batch.attrs["nexusdata"]["dropped"] for batch in got]
    assert dropped[0] == 0 and all(d > 0 for d in dropped[1:]) and reader.dropped == sum(dropped)
    assert (delivery.duplicates, delivery.unexpected, delivery.torn, delivery.reordered) == (0, 0, 0, 0)
    assert delivery.holes * ROWS_PER_PUSH == sum(dropped)  # every row lost is counted, in whole pushes
    for before, after in zip(got, got[1:]):
        assert (
            after.attrs["nexusdata"]["first_row"]
            == before.attrs["nexusdata"]["first_row"] + len(before) + after.attrs["nexusdata"]["dropped"]
        )


def test_a_failing_callback_is_reported_counted_and_the_feed_goes_on(
    sim: Simulator, caplog: pytest.LogCaptureFixture, no_thread_leak: None
) -> None:
    calls: list[int] = []

    def fails_once(batch: pd.DataFrame) -> None:
        calls.append(len(batch))
        if len(calls) == 2:
            raise RuntimeError("the model diverged")

    with nd.live_depth("BTCUSDT", **sim.nexus) as live:
        with caplog.at_level(logging.WARNING, logger="nexusdata"):
            callback = live.on_batch(fails_once, rows=20)
            assert wait_until(lambda: len(calls) >= 4)  # called again after the exception
        assert (callback.errors, callback.error) == (1, "RuntimeError: the model diverged")
        assert live.stats()["callback_errors"] == 1 and live.running and "1 errors" in repr(callback)
        said = [r for r in caplog.records if "on_batch callback" in r.getMessage()]
        assert len(said) == 1 and "the model diverged" in said[0].getMessage() and "the feed goes on" in said[0].getMessage()
        assert said[0].exc_info is not None  # with the traceback, which says where in fn
        callback.remove()
        assert not callback.running and live.callbacks == [callback]
        called, seen = len(calls), live.feed.accepted
        assert wait_until(lambda: live.feed.accepted >= seen + 5)
        assert len(calls) == called  # removed: not called again while data goes on arriving


def test_a_callback_may_stop_its_own_handle(sim: Simulator, no_thread_leak: None) -> None:
    """A callback that calls ``live.stop()`` (enough data) stops the feed; its own thread then ends
    after a last batch, instead of waiting for itself."""
    rows: list[int] = []
    with nd.live_depth("BTCUSDT", **sim.nexus) as live:

        def enough(batch: pd.DataFrame) -> None:
            rows.append(len(batch))
            if sum(rows) >= 50:
                live.stop()

        callback = live.on_batch(enough, rows=10)
        assert callback.done.wait(WAIT) and not live.running
    assert callback.errors == 0 and sum(rows) == len(live.frame())


def test_several_readers_of_one_handle_each_read_every_row(sim: Simulator, no_thread_leak: None) -> None:
    seen: dict[str, list[pd.DataFrame]] = {"every": [], "rows": []}
    with nd.live_depth("BTCUSDT", **sim.nexus) as live:
        first = live.on_batch(seen["every"].append, every=0.05)
        second = live.on_batch(seen["rows"].append, rows=25)
        assert wait_until(lambda: len(live.frame()) >= 100)
    assert first.calls > 0 and second.calls > 0
    for batches in seen.values():
        pd.testing.assert_frame_equal(uncategorised(pd.concat(batches, ignore_index=True)), uncategorised(live.frame()))


def uncategorised(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its categories as strings: batches with different categories concatenate so."""
    return df.astype({name: str for name in df.columns if isinstance(df[name].dtype, pd.CategoricalDtype)})
