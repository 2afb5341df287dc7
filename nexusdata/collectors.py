"""The blocking collectors of the contract: one call, one DataFrame.

Each checks its arguments, starts a :class:`~nexusdata.feed.Feed` in the background, blocks until
``seconds`` pass or ``max_messages`` pushes arrive (a KeyboardInterrupt ends it early with what
arrived), stops cleanly and returns the typed DataFrame. Its ``attrs["nexusdata"]`` holds the
run's counters and gap log.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
import time
from typing import Any, Literal

import pandas as pd

from .config import Feed as FeedName
from .config import nonempty_str, positive_int, positive_number, split_conn
from .errors import ArgumentError, ConnectionFailedError
from .feed import Feed
from .protocol import IndexSubscription, Table, chainext, nexus, tables

log = logging.getLogger("nexusdata")

OrderRows = Literal["orders", "cp_orders", "executions"]
ORDER_TABLES: dict[str, Table] = {"orders": tables.ORDERS, "cp_orders": tables.CP_ORDERS, "executions": tables.EXECUTIONS}
MAX_DEPTH = 100
_TICK = 0.2  # seconds between checks for Ctrl-C while a collector blocks


def stream_depth(
    symbol: str, seconds: float = 60, depth: int = 5, *, max_messages: int | None = None, **conn: Any
) -> pd.DataFrame:
    """Collect ``symbol``'s aggregated order book: one row per price level per push, with
    ``side`` ("bid"/"ask") and ``level`` (0 = best)."""
    symbol = nonempty_str(symbol, "symbol")
    depth = positive_int(depth, "depth", maximum=MAX_DEPTH)
    return _collect("nexus", [nexus.depth(symbol, depth)], tables.DEPTH, seconds, max_messages, conn)


def collect_orders(
    seconds: float = 60, *, max_messages: int | None = None, rows: OrderRows = "orders", **conn: Any
) -> pd.DataFrame:
    """Collect the account's order results: one row per parent order update, or with
    ``rows="cp_orders"`` one per child order, ``rows="executions"`` one per execution (each
    carrying its parent's ``client_order_id`` and ``parent_order_id``)."""
    if rows not in ORDER_TABLES:
        raise ArgumentError(f"rows must be one of {', '.join(map(repr, ORDER_TABLES))}, got {rows!r}")
    return _collect("nexus", [nexus.orders()], ORDER_TABLES[rows], seconds, max_messages, conn)


def collect_risk(
    symbol: str, book: str, seconds: float = 60, *, max_messages: int | None = None, **conn: Any
) -> pd.DataFrame:
    """Collect the risk position of ``symbol`` in ``book``: one row per position row pushed."""
    sub = nexus.risk(nonempty_str(symbol, "symbol"), nonempty_str(book, "book"))
    return _collect("nexus", [sub], tables.RISK, seconds, max_messages, conn)


def collect_index(
    topic: str, id: str | int, seconds: float = 60, *, max_messages: int | None = None, **conn: Any
) -> pd.DataFrame:
    """Collect a ChaiNext topic for one coin or index ``id``. ``pair_index`` and
    ``pair_index_v3`` give one row per exchange pair per push (the pair's status is
    ``pair_status``)."""
    sub = index_subscription(topic, id)
    return _collect("chainext", [sub], chainext.TOPICS[sub.topic], seconds, max_messages, conn)


def index_subscription(topic: object, id: object) -> IndexSubscription:
    """A checked ChaiNext subscription (topic known, id a non-empty string or whole number)."""
    if topic not in chainext.TOPICS:
        raise ArgumentError(f"topic must be one of {', '.join(chainext.TOPICS)}, got {topic!r}")
    if isinstance(id, bool) or not isinstance(id, (str, int)) or (isinstance(id, int) and id < 0):
        raise ArgumentError(f"id must be a coin or index id (string or whole number >= 0), got {id!r}")
    return IndexSubscription(str(topic), nonempty_str(str(id), "id"))


def check_run(seconds: object, max_messages: object) -> tuple[float, int | None]:
    """Checked ``seconds`` (positive, may be ``inf`` when ``max_messages`` is set) and
    ``max_messages`` (``None`` or >= 1)."""
    limit = None if max_messages is None else positive_int(max_messages, "max_messages")
    return positive_number(seconds, "seconds", allow_inf=limit is not None), limit


def wait_interruptibly(feed: Feed, seconds: float) -> None:
    """Block until ``seconds`` pass or the feed finishes, waking every tick so that Ctrl-C (the
    notebook's stop button) is honoured at once on every platform."""
    deadline = time.monotonic() + seconds
    while not feed.wait(min(_TICK, max(deadline - time.monotonic(), 0))):
        if time.monotonic() >= deadline:
            return


def _collect(
    feed_name: FeedName, subscriptions: list[Any], table: Table, seconds: Any, max_messages: Any, conn: dict[str, Any]
) -> pd.DataFrame:
    seconds, limit = check_run(seconds, max_messages)
    endpoint, options, _ = split_conn(feed_name, conn)
    feed = Feed(endpoint, subscriptions, {subscriptions[0].kind: table}, options, max_messages=limit)
    feed.start()
    try:
        wait_interruptibly(feed, seconds)
    except KeyboardInterrupt:
        log.warning("interrupted: stopping and returning what arrived so far")
    finally:
        feed.stop()
    frame = feed.frame()
    # Plain JSON values only: pandas writes attrs into Parquet metadata.
    frame.attrs["nexusdata"] = {**feed.stats(), "gaps": [asdict(e) for e in feed.connection.events]}
    error = feed.error
    if error is not None:
        if isinstance(error, ConnectionFailedError):
            error.frame = frame  # what arrived before the feed became unreachable is not lost
        raise error
    return frame
