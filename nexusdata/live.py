"""Live handles: a feed that keeps collecting in the background while the notebook goes on.

``live = nd.live_depth("BTCUSDT")`` returns at once; ``live.frame()`` is everything so far (the
collectors' schema), ``live.latest`` the newest push, ``live.stats()`` the counters,
``live.plot()`` a live chart and ``live.stop()`` (or a ``with`` block) ends it. Memory stays
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
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, Hashable, Iterable

import pandas as pd

from .collectors import (
    LIVE_READS,
    OrderRows,
    depth_subscription,
    index_subscription,
    order_table,
    raise_feed_error,
    risk_subscription,
)
from .config import Endpoint
from .config import Feed as FeedName
from .config import positive_int, split_conn
from .errors import ArgumentError
from .feed import Feed, Read
from .frames import TableBuffer, build_frame
from .plots import CHARTS, clock, latest_push
from .protocol import Table, chainext, nexus, tables

if TYPE_CHECKING:
    from .widgets import LivePlot

log = logging.getLogger("nexusdata.live")

DEFAULT_MAX_ROWS = 1_000_000
"""Rows a live handle keeps by default, the newest ones (about 40 MB of depth rows)."""

RATE_WINDOW = 10.0
"""Seconds over which the push rate is measured."""

_running: dict[Hashable, LiveHandle] = {}
_registry = threading.Lock()


def reads_frame(table: Table, reads: Iterable[Read]) -> pd.DataFrame:
    """The rows of some socket reads, typed exactly as the feed's own buffer types them."""
    buffer = TableBuffer(table)
    for read in reads:
        buffer.extend(read.frames, read.received_ns, read.connection)
    return buffer.frame()


def feed_state(feed: Feed) -> str:
    """``connecting``, ``connected``, ``reconnecting``, ``stopped`` or ``failed``."""
    connection = feed.connection
    if feed.error is not None:
        return "failed"
    if feed.finished.is_set():
        return "stopped"
    if connection.ready.is_set():
        return "connected"
    return "reconnecting" if connection.number else "connecting"


def push_rate(feed: Feed, kind: str, window: float = RATE_WINDOW) -> float:
    """Pushes per second of ``kind`` over the last ``window`` seconds (or since the start)."""
    reads = list(feed.arrivals[kind])
    if not reads or feed.started_at is None:
        return 0.0
    now = time.time()
    span = min(window, now - feed.started_at)
    inside = [r for r in reads if r.received_ns >= (now - span) * 1e9]
    if len(reads) == feed.arrivals[kind].maxlen and len(inside) == len(reads):
        span = now - reads[0].received_ns / 1e9  # older reads of the window were not kept
    return sum(r.pushes for r in inside) / span if span > 0 else 0.0


def feed_stats(feed: Feed, kind: str) -> dict[str, Any]:
    """The feed's counters with its ``state``, push ``rate`` (per second) and ``last_update``."""
    last = feed.last_push_at
    warnings = feed.warnings()
    return {
        "state": feed_state(feed),
        **feed.stats(),
        "rate": push_rate(feed, kind),
        "last_update": None if last is None else pd.Timestamp(last, unit="s", tz="UTC"),
        "warning": warnings[-1] if warnings else None,
    }


def status_line(stats: dict[str, Any]) -> str:
    """The stats as one short line: state, messages, rate, reconnects, problems, last update."""
    parts = [stats["state"], f"{stats['messages']:,} messages", f"{stats['rate']:,.1f}/s"]
    if "rows" in stats:
        parts.append(f"{stats['rows']:,} rows")
    for name in ("reconnects", "malformed", "unknown"):
        if stats[name]:
            parts.append(f"{stats[name]:,} {name}")
    if stats["last_update"] is not None:
        parts.append(f"last update {clock(stats['last_update'])}")
    if stats.get("warning"):
        parts.append(f"warning: {stats['warning']}")
    return " · ".join(parts)


class LiveHandle:
    """One subscription collecting in the background (see :mod:`nexusdata.live`).

    ``frame()`` and ``latest`` raise the error that ended the feed, if one did (a
    :class:`~nexusdata.ConnectionFailedError` carries the rows collected before as ``.frame``).
    """

    def __init__(self, label: str, feed: Feed, kind: str, key: Hashable) -> None:
        self.label = label
        self.feed = feed
        self.kind = kind
        self._key = key
        self._plot: LivePlot | None = None

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
        frame = self.feed.frame(self.kind)
        raise_feed_error(self.feed, frame)
        return frame

    @property
    def latest(self) -> pd.DataFrame:
        """The rows of the newest push: for depth the current book, for an index its latest
        values (no rows before the first push)."""
        read = self.feed.latest[self.kind]
        frame = reads_frame(self.table, [read]) if read else build_frame(self.table, [])
        raise_feed_error(self.feed, frame)
        return latest_push(frame)

    def stats(self) -> dict[str, Any]:
        """``state``, ``messages``, ``rate`` (pushes/s over the last 10 s), ``rows`` held,
        ``connection``, ``reconnects``, ``malformed``, ``unknown`` and ``last_update``."""
        return {**feed_stats(self.feed, self.kind), "rows": self.feed.buffers[self.kind].rows}

    def events(self) -> pd.DataFrame:
        """The gap log: connects, disconnects, stalls and failed attempts with times and reasons."""
        return self.feed.events()

    def replies(self) -> pd.DataFrame:
        """The reply log: the server's answers to every request (see :meth:`Feed.replies`)."""
        return self.feed.replies()

    def plot(self, **options: Any) -> LivePlot:
        """A live chart of this handle (depth and ``pair_index_v3``) that redraws itself in
        Jupyter as data arrives; ``options`` go to :class:`~nexusdata.widgets.LivePlot`. A
        handle has one chart: asking again (re-running the cell) closes the previous one."""
        chart = CHARTS.get(self.table.name)
        if chart is None:
            raise ArgumentError(f"live charts draw {' and '.join(CHARTS)} data only; this handle collects {self.table.name}")
        from .widgets import LivePlot  # ipywidgets is loaded only when a chart is made

        if self._plot is not None:
            self._plot.close()
        self._plot = LivePlot(self.feed, self.kind, chart, **options)
        return self._plot

    def stop(self) -> None:
        """Unsubscribe, close and join the connection thread; what was collected stays readable.
        Stopping a stopped handle does nothing."""
        with _registry:
            if _running.get(self._key) is self:
                del _running[self._key]
        self.feed.stop()

    def __enter__(self) -> LiveHandle:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<LiveHandle {self.label} {self.feed.connection.endpoint.display_url}: {status_line(self.stats())}>"

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
        colour = {"connected": "#2a9d8f", "failed": "#e76f51"}.get(stats["state"], "#6c757d")
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        title = f"<b>live {html.escape(self.label)}</b> <span style='color:{colour}'>● {stats['state']}</span>"
        return f"<div>{title}<table>{body}</table></div>"


def live_depth(symbol: str, depth: int = 5, *, max_rows: int | None = DEFAULT_MAX_ROWS, **conn: Any) -> LiveHandle:
    """Collect ``symbol``'s order book in the background (rows as :func:`~nexusdata.stream_depth`);
    ``latest`` is the current book."""
    sub = depth_subscription(symbol, depth)
    return _start("nexus", sub, tables.DEPTH, max_rows, conn, f"{sub.symbol} depth {sub.depth}")


def live_orders(*, rows: OrderRows = "orders", max_rows: int | None = DEFAULT_MAX_ROWS, **conn: Any) -> LiveHandle:
    """Collect the account's order results in the background (rows as
    :func:`~nexusdata.collect_orders`)."""
    return _start("nexus", nexus.orders(), order_table(rows), max_rows, conn, rows)


def live_risk(symbol: str, book: str, *, max_rows: int | None = DEFAULT_MAX_ROWS, **conn: Any) -> LiveHandle:
    """Collect the risk position of ``symbol`` in ``book`` in the background (rows as
    :func:`~nexusdata.collect_risk`)."""
    sub = risk_subscription(symbol, book)
    return _start("nexus", sub, tables.RISK, max_rows, conn, f"{sub.symbol} {sub.book} risk")


def live_index(topic: str, id: str | int, *, max_rows: int | None = DEFAULT_MAX_ROWS, **conn: Any) -> LiveHandle:
    """Collect a ChaiNext topic for one coin or index in the background (rows as
    :func:`~nexusdata.collect_index`); ``latest`` is the latest push."""
    sub = index_subscription(topic, id)
    return _start("chainext", sub, chainext.TOPICS[sub.topic], max_rows, conn, f"{sub.topic} {sub.id}")


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
    return hashlib.sha256(f"{endpoint.token}\0{endpoint.api_secret}".encode()).hexdigest()


def _start(feed_name: FeedName, subscription: Any, table: Table, max_rows: object, conn: dict[str, Any], label: str) -> LiveHandle:
    rows = None if max_rows is None else positive_int(max_rows, "max_rows")
    endpoint, options, _ = split_conn(feed_name, conn)
    key = (table.name, subscription, endpoint, _credentials(endpoint))
    with _registry:
        previous = _running.pop(key, None)
    if previous is not None:
        log.info("replacing the running live handle %s", previous.label)
        previous.stop()
    feed = Feed(endpoint, [subscription], {subscription.kind: table}, options, max_rows=rows, arrivals=LIVE_READS)
    handle = LiveHandle(label, feed, subscription.kind, key)
    with _registry:
        _running[key] = handle
    feed.start()
    return handle
