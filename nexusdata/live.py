"""Live handles: a feed that keeps collecting in the background while the notebook goes on.

``live = nd.live_depth("BTCUSDT")`` returns at once; ``live.frame()`` is everything so far (the
collectors' schema), ``live.latest`` the newest push, ``live.stats()`` the counters,
``live.plot()`` a live chart and ``live.stop()`` (or a ``with`` block, or ``async with``) ends it.
``live.batches(every=1.0)`` iterates what arrives, batch by batch (``for`` or ``async for``), and
``live.on_batch(fn)`` calls a function with each batch in a worker thread. Memory stays
bounded: a handle keeps its newest ``max_rows`` rows. Creating a handle for the same
subscription on the same endpoint again (re-running its cell) stops the previous one first, so a
notebook never leaks connections.
"""

from __future__ import annotations

import atexit
import hashlib
import html
import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import kinds
from .batches import CALLBACK_WAIT, EVERY, BatchCallback, Batches
from .charts import charted_kinds
from .checks import positive_int
from .config import Endpoint, split_conn
from .errors import ArgumentError
from .feed import (
    LIVE_READS,
    OTHER_STATE_COLOUR,
    RATE_WINDOW,
    STATE_COLOURS,
    Feed,
    Read,
    clock,
)
from .frames import TableBuffer, build_dataframe, latest_push
from .kinds import KINDS, Kind, OrderRows, Subscription, keys, order_view
from .protocol import Table
from .run import raise_feed_error

if TYPE_CHECKING:
    from .widgets import LivePlot, LiveStatus

log = logging.getLogger("nexusdata.live")

DEFAULT_MAX_ROWS = 1_000_000
"""Rows a live handle keeps by default, the newest ones (about 40 MB of depth rows)."""

Subscribe = Callable[..., tuple[Subscription, ...]]
"""A handle's checked subscriptions from the arguments of the function that made it."""

_running: dict[Hashable, LiveHandle] = {}
_registry = threading.Lock()


def reads_dataframe(table: Table, reads: Iterable[Read]) -> pd.DataFrame:
    """The rows of some socket reads, typed exactly as the feed's own buffer types them."""
    buffer = TableBuffer(table)
    for read in reads:
        buffer.extend(read.frames, read.received_ns, read.connection)
    return buffer.dataframe()


class LiveHandle:
    """Subscriptions of one kind collecting in the background (see :mod:`nexusdata.live`).

    ``frame()`` and ``latest`` raise the error that ended the feed, if one did (a
    :class:`~nexusdata.ConnectionFailedError` carries the rows collected before as ``.frame``).
    ``subscribe(...)`` and ``unsubscribe(...)`` change the set on the running connection, with
    the arguments of the function that made the handle.
    """

    def __init__(self, feed: Feed, push: str, subscribed: Kind, build: Subscribe, key: Hashable) -> None:
        self.feed = feed
        self.kind = push
        """The push kind it collects (the feed's buffer of it)."""
        self.subscribed = subscribed
        """The registry's entry of what it collects."""
        self._build = build
        self._key = key
        self._plot: LivePlot | None = None
        self._status: LiveStatus | None = None  # what displaying the handle shows in Jupyter
        self._callbacks: list[BatchCallback] = []

    @property
    def label(self) -> str:
        """What it collects now, in a few words."""
        return self.subscribed.labels(self.feed.connection.subscriptions) if self.feed.connection.subscriptions else "nothing"

    @property
    def subscriptions(self) -> list[str]:
        """What it is subscribed to now, one label each (refused ones included until unsubscribed)."""
        return [self.subscribed.label(sub) for sub in self.feed.connection.subscriptions]

    def subscribe(self, *args: Any, **kwargs: Any) -> list[str]:
        """Subscribe to more on the running connection (and on every reconnect after it), with
        the arguments of the function that made the handle: ``live.subscribe("SOLUSDT")`` for
        ``live_depth``, ``live.subscribe("SOLUSDT", "A")`` for ``live_risk``,
        ``live.subscribe(["2", "3"])`` for ``live_index``. The request is sent within a fifth of a
        second and shows in the gap log; returns the labels of those that were new."""
        return [self.subscribed.label(s) for s in self._build(*args, **kwargs) if self.feed.connection.subscribe(s)]

    def unsubscribe(self, *args: Any, **kwargs: Any) -> list[str]:
        """Unsubscribe on the running connection (and leave it out of every reconnect), with the
        arguments of :meth:`subscribe` (a depth handle's symbol alone is enough). Rows already
        collected stay. Returns the labels of those dropped; naming one not subscribed is an
        :class:`~nexusdata.ArgumentError`."""
        wanted = {self.subscribed.key_of(s) for s in self._build(*args, **kwargs)}
        current = [s for s in self.feed.connection.subscriptions if self.subscribed.key_of(s) in wanted]
        missing = wanted - {self.subscribed.key_of(s) for s in current}
        if missing:
            raise ArgumentError(
                f"not subscribed: {', '.join(sorted(missing))}; subscribed: {', '.join(self.subscriptions) or 'nothing'}"
            )
        return [self.subscribed.label(s) for s in current if self.feed.connection.unsubscribe(s)]

    @property
    def table(self) -> Table:
        return self.feed.buffers[self.kind].table

    @property
    def running(self) -> bool:
        """Whether the connection thread still runs."""
        return self.feed.connection.alive

    @property
    def error(self) -> Exception | None:
        """The error that ended the feed (refused credentials, unreachable server), if any."""
        return self.feed.error

    def frame(self) -> pd.DataFrame:
        """Everything held so far (the newest ``max_rows`` rows), as the collectors return it."""
        frame = self.feed.dataframe(self.kind)
        raise_feed_error(self.feed, frame)
        return frame

    @property
    def latest(self) -> pd.DataFrame:
        """The rows of the newest push: for depth the current book, for an index its latest
        values (no rows before the first push)."""
        read = self.feed.latest[self.kind]
        frame = reads_dataframe(self.table, [read]) if read else build_dataframe(self.table, [])
        raise_feed_error(self.feed, frame)
        return latest_push(frame)

    def stats(self) -> dict[str, Any]:
        """``state``, ``messages``, ``rate`` (pushes/s over the last 10 s), ``rows`` held,
        ``connection``, ``reconnects``, ``malformed``, ``unknown``, ``last_update`` and
        ``callback_errors`` (exceptions raised by :meth:`on_batch` functions)."""
        return {**self.feed.status(self.kind), "callback_errors": sum(c.errors for c in self._callbacks)}

    def batches(self, every: float | None = EVERY, rows: int | None = None) -> Batches:
        """What arrives, batch by batch: ``for batch in live.batches(every=1.0)`` (or ``async
        for``) gets a DataFrame (the columns and dtypes of :meth:`frame`) of the rows that arrived
        since the last batch, every ``every`` seconds or as soon as ``rows`` rows arrived. Nothing
        is lost or repeated between batches unless the reader falls more than ``max_rows`` rows
        behind (then the oldest are dropped and counted in ``batch.attrs["nexusdata"]``). The
        first batch starts with the oldest row held; iteration ends when the handle stops. See
        :mod:`nexusdata.batches`."""
        return Batches(self.feed, self.kind, every, rows)

    def on_batch(
        self, fn: Callable[[pd.DataFrame], object], every: float | None = EVERY, rows: int | None = None
    ) -> BatchCallback:
        """Call ``fn(batch)`` in a worker thread with each batch (as :meth:`batches`) until the
        handle stops (after a last batch) or ``callback.remove()``. An exception in ``fn`` is
        logged as a warning and counted (``callback.errors``, ``stats()["callback_errors"]``),
        and the feed goes on."""
        callback = BatchCallback(self.batches(every, rows), fn, self.label)
        self._callbacks.append(callback)
        return callback

    @property
    def callbacks(self) -> list[BatchCallback]:
        """The :meth:`on_batch` callbacks, removed ones included."""
        return list(self._callbacks)

    def events(self) -> pd.DataFrame:
        """The gap log: connects, disconnects, stalls and failed attempts with times and reasons."""
        return self.feed.events()

    def replies(self) -> pd.DataFrame:
        """The reply log: the server's answers to every request (see :meth:`Feed.replies`)."""
        return self.feed.replies()

    def plot(
        self, chart: str | None = None, *, symbol: str | None = None, id: str | int | None = None, **options: Any
    ) -> LivePlot:
        """A live chart of this handle that redraws itself in Jupyter as data arrives: for depth
        the book and its mid and spread (``chart="depth"``, the default) or the order-book
        heatmap (``chart="heatmap"``); for ``pair_index_v3`` the pair weights (the charts of
        each kind: :data:`~nexusdata.charts.CHARTS`). ``options`` go to
        :class:`~nexusdata.widgets.LivePlot`.

        A chart draws one symbol (depth, ``symbol=``) or id (``pair_index_v3``, ``id=``) of those
        subscribed, by default the first: it keeps drawing that one whatever :meth:`subscribe`
        and :meth:`unsubscribe` do (its header says when it is unsubscribed), and never mixes in
        another's rows. A handle draws one chart at a time: asking again (re-running the cell)
        turns the previous one into its picture."""
        if not self.subscribed.chart:
            raise ArgumentError(f"live charts draw {charted_kinds()} data only; this handle collects {self.table.name}")
        subscription = self._charted(symbol, id)
        from .widgets import (  # matplotlib and ipywidgets are loaded only when a chart is made
            LivePlot,
            Pick,
        )

        plot = LivePlot.of(self.feed, self.kind, Pick.of(self.subscribed, subscription), chart, **options)
        if self._plot is not None:
            self._plot.finish()
        self._plot = plot
        return plot

    def _charted(self, symbol: object, id: object) -> Subscription:
        """The subscription a chart draws: the one named by ``symbol=`` or ``id=`` (whichever
        names this handle's subscriptions), else the first."""
        key = "symbol" if self.subscribed.key == "symbol" else "id"
        named, other = (symbol, id) if key == "symbol" else (id, symbol)
        if other is not None:
            wrong = "id" if key == "symbol" else "symbol"
            raise ArgumentError(f"a {self.subscribed.name} chart is of one {key}: pass {key}=, not {wrong}=")
        subscriptions = self.feed.connection.subscriptions
        if not subscriptions:
            raise ArgumentError(f"this handle is subscribed to nothing now: live.subscribe(...) a {key} to chart")
        if named is None:
            return subscriptions[0]
        wanted = self._build(named)
        found = [s for s in subscriptions if len(wanted) == 1 and self.subscribed.key_of(s) == self.subscribed.key_of(wanted[0])]
        if not found:
            raise ArgumentError(
                f"{key} must name one of this handle's subscriptions ({', '.join(self.subscriptions)}), got {named!r}"
            )
        return found[0]

    def stop(self) -> None:
        """Unsubscribe, close and join the connection thread; what was collected stays readable.
        Stopping a stopped handle does nothing."""
        with _registry:
            if _running.get(self._key) is self:
                del _running[self._key]
        self.feed.stop()
        for callback in self._callbacks:  # each takes the last batch first
            if not callback.join(CALLBACK_WAIT):
                log.warning("%r still running %gs after the handle stopped", callback, CALLBACK_WAIT)

    def __enter__(self) -> LiveHandle:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> LiveHandle:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        """Stop as :meth:`stop` does, awaiting the connection thread and the callbacks instead
        of blocking the event loop."""
        from .aio import stop_feed, wait_signal

        await stop_feed(self.feed)
        for callback in self._callbacks:
            await wait_signal(callback.done, CALLBACK_WAIT)
        self.stop()  # both ended: this returns at once

    def __repr__(self) -> str:
        return f"<LiveHandle {self.label} {self.feed.connection.endpoint.display_url}: {self.feed.status_line(self.kind)}>"

    def _ipython_display_(self) -> None:
        """In Jupyter, the status table, updated while the handle runs (and kept as HTML once
        it stops); elsewhere the text and the table as they are now."""
        from .progress import in_kernel

        if not in_kernel():
            from IPython.display import display

            display({"text/plain": repr(self), "text/html": self._repr_html_()}, raw=True)
            return
        from .widgets import LiveStatus

        if self._status is None:
            self._status = LiveStatus(self.feed, self._repr_html_, self.__repr__)
        self._status._ipython_display_()

    def _repr_html_(self) -> str:
        stats = self.stats()
        max_rows = self.feed.buffers[self.kind].max_rows
        rows = [
            ("status", stats["state"]),
            ("endpoint", self.feed.connection.endpoint.display_url),
            ("messages", f"{stats['messages']:,}"),
            ("rate", f"{stats['rate']:,.1f} pushes/s (last {RATE_WINDOW:g} s)"),
            ("rows", f"{stats['rows']:,}" + (f" (newest {max_rows:,} kept)" if max_rows else "")),
            ("reconnects", f"{stats['reconnects']:,}"),
            ("malformed / unknown", f"{stats['malformed']:,} / {stats['unknown']:,}"),
            ("last update", clock(stats["last_update"]) if stats["last_update"] is not None else "none yet"),
        ]
        if stats["warning"]:
            rows.append(("warning", stats["warning"]))
        if self.error is not None:
            rows.append(("error", f"{type(self.error).__name__}: {self.error}"))
        colour = STATE_COLOURS.get(stats["state"], OTHER_STATE_COLOUR)
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        title = f"<b>live {html.escape(self.label)}</b> <span style='color:{colour}'>● {stats['state']}</span>"
        return f"<div>{title}<table>{body}</table></div>"


def live_depth(
    symbol: str | Sequence[str], depth: int = 5, *, max_rows: int | None = DEFAULT_MAX_ROWS, **conn: Any
) -> LiveHandle:
    """Collect the order book of ``symbol`` (or each symbol of a list, on one connection) in the
    background (rows as :func:`~nexusdata.stream_depth`); ``latest`` is the current book."""
    kind = KINDS["depth"]

    def build(symbol: Any, depth: Any = depth) -> tuple[Subscription, ...]:
        return kind.subscriptions(keys(symbol), depth)

    return _start(kind, build(symbol), build, max_rows, conn)


def live_orders(*, rows: OrderRows = "orders", max_rows: int | None = DEFAULT_MAX_ROWS, **conn: Any) -> LiveHandle:
    """Collect the account's order results in the background (rows as
    :func:`~nexusdata.collect_orders`)."""
    kind = order_view(rows)

    def build(*args: Any) -> tuple[Subscription, ...]:
        raise ArgumentError("the orders are one subscription, made with the handle: there is nothing to add or drop")

    return _start(kind, kind.subscriptions([]), build, max_rows, conn)


def live_risk(symbol: str | Sequence[str], book: str, *, max_rows: int | None = DEFAULT_MAX_ROWS, **conn: Any) -> LiveHandle:
    """Collect the risk position of ``symbol`` (or each symbol of a list) in ``book`` in the
    background (rows as :func:`~nexusdata.collect_risk`)."""
    kind = KINDS["risk"]

    def build(symbol: Any, book: Any) -> tuple[Subscription, ...]:
        return kind.subscriptions([(one, book) for one in keys(symbol)])

    return _start(kind, build(symbol, book), build, max_rows, conn)


def live_index(
    topic: str, id: str | int | Sequence[str | int], *, max_rows: int | None = DEFAULT_MAX_ROWS, **conn: Any
) -> LiveHandle:
    """Collect a ChaiNext topic for one coin or index (or each id of a list) in the background
    (rows as :func:`~nexusdata.collect_index`); ``latest`` is the latest push."""
    kind = kinds.topic(topic)

    def build(id: Any) -> tuple[Subscription, ...]:
        return kind.subscriptions(keys(id))

    return _start(kind, build(id), build, max_rows, conn)


def live_handles() -> list[LiveHandle]:
    """The live handles running now, oldest first."""
    with _registry:
        return list(_running.values())


def stop_live() -> int:
    """Stop every running live handle (also done when Python exits); how many were running."""
    handles = live_handles()
    for handle in handles:
        handle.stop()
    return len(handles)


atexit.register(stop_live)


def _credentials(endpoint: Endpoint) -> str:
    """A digest telling credentials apart (two accounts on one server are two handles) without
    keeping another copy of them."""
    return hashlib.sha256("\0".join(value for _, value in endpoint.credentials).encode()).hexdigest()


def _start(
    kind: Kind, subscriptions: tuple[Subscription, ...], build: Subscribe, max_rows: object, conn: dict[str, Any]
) -> LiveHandle:
    rows = None if max_rows is None else positive_int(max_rows, "max_rows")
    endpoint, options, _ = split_conn(kind.service, conn)
    key = (kind.name, subscriptions, endpoint, _credentials(endpoint))
    with _registry:
        previous = _running.pop(key, None)
    if previous is not None:
        log.info("replacing the running live handle %s", previous.label)
        previous.stop()
    push = subscriptions[0].kind
    feed = Feed(endpoint, subscriptions, {push: kind.table}, options, max_rows=rows, arrivals=LIVE_READS)
    handle = LiveHandle(feed, push, kind, build, key)
    with _registry:
        _running[key] = handle
    feed.start()
    return handle
