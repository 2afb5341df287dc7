"""The gap log as a DataFrame: every connect, disconnect, stall, failed attempt and close of a
collection, with its time, connection number and reason, so a user can see where data is missing
and why."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from .errors import ArgumentError, ConnectionFailedError
from .feed import Feed, gap_frame
from .transport import Connection, ConnectionEvent


def gap_log(source: Any) -> pd.DataFrame:
    """The gap log of ``source`` (a collector's DataFrame, a :class:`ConnectionFailedError`, a
    running feed, live handle or connection) with columns ``time`` (UTC), ``connection``,
    ``event`` (``connected``, ``disconnected``, ``stalled``, ``connect_failed``, ``silent``,
    ``refused``, ``subscribed``, ``unsubscribed``, ``closed``) and
    ``reason``."""
    return gap_frame(_events_of(source))


def _events_of(source: Any) -> Iterable[ConnectionEvent | Mapping[str, Any]]:
    if isinstance(source, ConnectionFailedError) and isinstance(source.frame, pd.DataFrame):
        source = source.frame
    if isinstance(source, pd.DataFrame):
        meta = source.attrs.get("nexusdata")
        if isinstance(meta, Mapping) and "gaps" in meta:
            return meta["gaps"]
        raise ArgumentError("source must be a DataFrame returned by a nexusdata collector (it has no gap log in attrs)")
    feed = getattr(source, "feed", source)
    if isinstance(feed, Feed):
        return list(feed.connection.events)
    if isinstance(source, Connection):
        return list(source.events)
    raise ArgumentError(
        "source must be a collector's DataFrame, a ConnectionFailedError, a live handle, a Feed or a"
        f" Connection; got {type(source).__name__}"
    )
