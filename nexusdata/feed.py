"""A running subscription set: one connection feeding one table buffer per push kind.

This is what the blocking collectors, the live handles and the recorder share: start it, let the
connection thread fill the buffers, read DataFrames whenever, stop it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Iterable, Mapping

import pandas as pd

from .config import Endpoint, Options
from .frames import TableBuffer
from .protocol import Table
from .transport import Connection

log = logging.getLogger("nexusdata.feed")


class Feed:
    """Pushes of the subscribed kinds accumulate in :attr:`buffers` (kind → TableBuffer).

    ``max_messages`` stops accepting pushes after that many and sets :attr:`finished`, which is
    also set when the connection thread ends (stopped or failed).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        subscriptions: Iterable[Any],
        tables: Mapping[str, Table],
        options: Options | None = None,
        *,
        max_messages: int | None = None,
        max_rows: int | None = None,
    ) -> None:
        self.buffers = {kind: TableBuffer(table, max_rows=max_rows) for kind, table in tables.items()}
        self.max_messages = max_messages
        self.accepted = 0
        self.unexpected = 0
        self.started_at: float | None = None
        self.last_push_at: float | None = None
        self.finished = threading.Event()
        self.connection = Connection(endpoint, subscriptions, self._on_push, options, done=self.finished)

    def _on_push(self, kind: str, payload: Any, received_ns: int, connection: int) -> None:
        buffer = self.buffers.get(kind)
        if buffer is None:
            self.unexpected += 1
            return
        limit = self.max_messages
        if limit is not None and self.accepted >= limit:
            return
        buffer.append(payload, received_ns, connection)
        self.accepted += 1
        self.last_push_at = received_ns / 1e9
        if limit is not None and self.accepted >= limit:
            self.finished.set()

    def start(self) -> Feed:
        self.started_at = time.time()
        self.connection.start()
        return self

    def wait(self, seconds: float | None) -> bool:
        """Block until ``seconds`` pass or the feed finishes; returns whether it finished."""
        return self.finished.wait(seconds)

    def stop(self) -> None:
        """Unsubscribe, close and join the connection thread."""
        self.connection.stop()

    @property
    def error(self) -> Exception | None:
        return self.connection.error

    def frame(self, kind: str | None = None) -> pd.DataFrame:
        """The DataFrame of ``kind`` (the only kind when there is one)."""
        if kind is None:
            if len(self.buffers) != 1:
                raise ValueError(f"kind must be one of {sorted(self.buffers)}")
            (buffer,) = self.buffers.values()
        else:
            buffer = self.buffers[kind]
        return buffer.frame()

    def stats(self) -> dict[str, Any]:
        """Counters: messages accepted, connections, malformed and unknown frames."""
        stats = self.connection.stats()
        stats["messages"] = self.accepted
        stats["malformed"] += sum(b.malformed for b in self.buffers.values())
        stats["unknown"] += self.unexpected
        return stats

    def events(self) -> pd.DataFrame:
        """The gap log: connects, disconnects, stalls and failed attempts with times and reasons."""
        rows = list(self.connection.events)
        return pd.DataFrame(
            {
                "time": pd.to_datetime([e.time for e in rows], unit="s", utc=True),
                "connection": pd.array([e.connection for e in rows], dtype="int32"),
                "event": pd.Series([e.event for e in rows], dtype="str"),
                "reason": pd.Series([e.reason for e in rows], dtype="str"),
            }
        )
