"""The asyncio forms of the collectors, and the bridge between a feed's thread and an event loop.

``await nd.astream_depth(...)`` (and ``acollect_orders``, ``acollect_risk``, ``acollect_index``)
takes the blocking collector's arguments and returns its DataFrame, while the loop runs on. The
socket stays in the feed's background thread (the same connection, protocol and buffers as every
other call): the thread tells the loop when something happened (the feed finished, a read's
pushes arrived) through ``loop.call_soon_threadsafe``, and no thread waits on the loop's behalf.

Cancelling the call (``task.cancel()``, ``asyncio.wait_for``'s timeout, Ctrl-C under
``asyncio.run``) stops the feed cleanly (unsubscribe, close, the thread joined) and then raises
:class:`asyncio.CancelledError`, as cancellation does: the rows that arrived are not returned.
To end early and keep them, give ``seconds=`` or ``max_messages=``, or read a live handle
(``async with nd.live_depth(...) as live``). A second cancellation while the feed stops raises at
once; the thread then ends by itself within its close timeout.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from .collectors import Collection, depth_plan, index_plan, orders_plan, risk_plan
from .feed import Feed, Signal
from .kinds import OrderRows, keyword_only
from .progress import RunProgress
from .run import TICK, Outcome, show_progress


class Waker:
    """Wakes a coroutine of the running loop from any thread: :meth:`set` is thread-safe and
    cheap (one ``call_soon_threadsafe`` until the loop has run it, however often it is called),
    :meth:`wait` waits for it or a timeout."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._pending = False

    def set(self) -> None:
        """Wake the waiting coroutine (from any thread)."""
        if self._pending:
            return
        self._pending = True
        try:
            self._loop.call_soon_threadsafe(self._fire)
        except RuntimeError:  # the loop is closed: nobody is left to wake
            pass

    def _fire(self) -> None:
        self._pending = False
        self._event.set()

    async def wait(self, timeout: float | None = None) -> None:
        """Return once :meth:`set` was called (since the last wait) or after ``timeout`` seconds."""
        timer = None if timeout is None or math.isinf(timeout) else self._loop.call_later(timeout, self._event.set)
        try:
            await self._event.wait()
        finally:
            if timer is not None:
                timer.cancel()
            self._event.clear()


async def wait_signal(signal: Signal, timeout: float | None = None) -> bool:
    """Wait until ``signal`` is set or ``timeout`` seconds passed (``None`` or ``inf``: no
    limit), without blocking the loop; whether it is set."""
    if signal.is_set():
        return True
    waker = Waker()
    remove = signal.listen(waker.set)
    try:
        await waker.wait(timeout)
    finally:
        remove()
    return signal.is_set()


async def stop_feed(feed: Feed) -> None:
    """Stop ``feed`` (unsubscribe, close, join its thread) without blocking the loop: the thread
    is asked to stop and awaited; joining it then returns at once."""
    feed.connection.stop_soon()
    if feed.connection.alive:
        await wait_signal(feed.ended)
    feed.stop()


async def run(
    feed: Feed,
    seconds: float,
    *,
    bar: RunProgress | None = None,
    on_tick: Callable[[], object] | None = None,
    tick: float = TICK,
) -> Outcome:
    """:func:`nexusdata.run.run` on the running loop: run ``feed`` for ``seconds`` (``inf``: until
    it finishes) and stop it, whatever happened. It wakes when the feed finishes or the time is
    up, and every ``tick`` only for ``on_tick`` or a bar that is shown. Cancelled, it stops the
    feed before the cancellation goes on."""
    started = time.monotonic()
    deadline = started + seconds
    ticking = on_tick is not None or (bar is not None and bar.shown)
    completed = False
    feed.start()
    try:
        try:
            while (left := deadline - time.monotonic()) > 0:
                if await wait_signal(feed.finished, min(tick, left) if ticking else left):
                    break
                if on_tick is not None:
                    on_tick()
                show_progress(feed, bar, started)
            completed = feed.error is None
        finally:
            await stop_feed(feed)
    finally:
        if bar is not None:
            show_progress(feed, bar, started)
            bar.close(completed)
    return Outcome(completed, False, time.monotonic() - started)


async def collect(collection: Collection) -> Any:
    """Run a collector's call on the running loop; its result, as the blocking call returns it."""
    try:
        outcome = await run(collection.feed, collection.seconds, bar=collection.bar, **collection.ticking)
    except asyncio.CancelledError:
        if collection.chart is not None:
            collection.chart.finish()  # its last state stays on screen, as when a run ends
        raise
    return collection.result(outcome)


@keyword_only(1, "seconds")
async def astream_depth(
    symbol: str | Sequence[str],
    seconds: float = 60,
    depth: int = 5,
    *,
    max_messages: int | None = None,
    progress: bool = True,
    plot: bool = False,
    **conn: Any,
) -> pd.DataFrame:
    """:func:`~nexusdata.stream_depth` for asyncio: the same arguments and DataFrame, while the
    event loop runs on."""
    return await collect(Collection.of(depth_plan(symbol, depth), seconds, max_messages, conn, progress, plot))


async def acollect_orders(
    seconds: float = 60,
    *,
    max_messages: int | None = None,
    rows: OrderRows = "orders",
    progress: bool = True,
    **conn: Any,
) -> pd.DataFrame:
    """:func:`~nexusdata.collect_orders` for asyncio: the same arguments and DataFrame, while the
    event loop runs on."""
    return await collect(Collection.of(orders_plan(rows), seconds, max_messages, conn, progress, False))


async def acollect_risk(
    symbol: str | Sequence[str],
    book: str,
    seconds: float = 60,
    *,
    max_messages: int | None = None,
    progress: bool = True,
    **conn: Any,
) -> pd.DataFrame:
    """:func:`~nexusdata.collect_risk` for asyncio: the same arguments and DataFrame, while the
    event loop runs on."""
    return await collect(Collection.of(risk_plan(symbol, book), seconds, max_messages, conn, progress, False))


async def acollect_index(
    topic: str | Mapping[str, Any],
    id: str | int | Sequence[str | int] | None = None,
    seconds: float = 60,
    *,
    max_messages: int | None = None,
    progress: bool = True,
    plot: bool = False,
    **conn: Any,
) -> Any:
    """:func:`~nexusdata.collect_index` for asyncio: the same arguments and result (a dict of
    DataFrames for a mapping of topics), while the event loop runs on."""
    plan = index_plan(topic, id)
    return await collect(Collection.of(plan, seconds, max_messages, conn, progress, plot, several=isinstance(topic, Mapping)))
