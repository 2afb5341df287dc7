"""A running subscription set: one connection feeding one table buffer per push kind.

This is what the blocking collectors, the live handles, the recorder and the check share: start
it, let the connection thread fill the buffers, read DataFrames whenever, stop it. It also says
how it is doing (:meth:`Feed.status`, :meth:`Feed.status_line`), the same way everywhere: in a
live handle's repr, a chart's status line and a progress bar.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, is_dataclass
from typing import Any, NamedTuple

import pandas as pd

from .config import Endpoint, Options
from .frames import TableBuffer
from .protocol import Table
from .transport import Connection, ConnectionEvent
from .transport.connection import Tracer

log = logging.getLogger("nexusdata.feed")

RATE_WINDOW = 10.0
"""Seconds over which the push rate is measured."""

LIVE_READS = 256
"""Socket reads a feed with a live chart or handle keeps for its push rate (the status line's)."""

STATE_COLOURS = {"connected": "#2a9d8f", "failed": "#e76f51"}
"""The colour of a state's dot in a live handle's or chart's status (grey for the others)."""
OTHER_STATE_COLOUR = "#6c757d"

GAP_COLUMNS = ("time", "connection", "event", "reason")


def clock(when: pd.Timestamp) -> str:
    """A receive time as status lines and chart titles show it: ``12:34:56.789 UTC``."""
    return f"{when:%H:%M:%S.%f}"[:-3] + " UTC"


def gap_frame(events: Iterable[ConnectionEvent | Mapping[str, Any]]) -> pd.DataFrame:
    """Gap log records (events, or their dicts as kept in ``attrs``) as a typed DataFrame."""
    rows = [asdict(e) if is_dataclass(e) else dict(e) for e in events]
    return pd.DataFrame(
        {
            "time": pd.to_datetime([r["time"] for r in rows], unit="s", utc=True),
            "connection": pd.array([r["connection"] for r in rows], dtype="int32"),
            "event": pd.Series([r["event"] for r in rows], dtype="str"),
            "reason": pd.Series([r["reason"] for r in rows], dtype="str"),
        },
        columns=list(GAP_COLUMNS),
    )


Listener = Callable[[], object]
"""Called with no arguments on the thread where something happened; quick (it sets an event)."""


class Signal(threading.Event):
    """A :class:`threading.Event` that also calls its listeners, on the thread that sets it: how
    an asyncio loop or a batch reader learns that a feed finished without a thread of its own
    waiting for it."""

    def __init__(self) -> None:
        super().__init__()
        self._listeners: list[Listener] = []
        self._guard = threading.Lock()

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` when this is set (at once if it is); returns what removes it."""
        with self._guard:
            self._listeners.append(listener)
        if self.is_set():
            listener()
        return lambda: self._remove(listener)

    def _remove(self, listener: Listener) -> None:
        with self._guard:
            self._listeners = [known for known in self._listeners if known is not listener]

    def set(self) -> None:
        super().set()
        with self._guard:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()


class Read(NamedTuple):
    """The newest socket read's pushes of one kind, as :attr:`Feed.latest` keeps them."""

    frames: list[bytes]  # the pushes' raw frames, as TableBuffer.extend takes them
    received_ns: int
    connection: int


class Arrival(NamedTuple):
    """When a socket read's pushes of one kind arrived, and how many: push rates are computed
    from these (a flood's reads hold hundreds of frames, which need not be kept for that)."""

    received_ns: int
    pushes: int


class Feed:
    """Pushes of the subscribed kinds accumulate in :attr:`buffers` (kind → TableBuffer).

    ``max_messages`` stops accepting pushes after that many and sets :attr:`finished`, which is
    also set when the connection thread ends (stopped or failed), as :attr:`ended` is.
    :meth:`watch` tells a listener of every socket read's pushes.
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
        arrivals: int = 1,
        trace: Tracer | None = None,
    ) -> None:
        self.buffers = {kind: TableBuffer(table, max_rows=max_rows) for kind, table in tables.items()}
        self.latest: dict[str, Read | None] = dict.fromkeys(tables)
        """Per kind, its newest socket read: a live handle's latest state."""
        self.arrivals: dict[str, deque[Arrival]] = {kind: deque(maxlen=arrivals) for kind in tables}
        """Per kind, when its newest ``arrivals`` socket reads arrived and how many pushes each held."""
        self.max_messages = max_messages
        self.accepted = 0
        self.unexpected = 0
        self.started_at: float | None = None
        self.last_push_at: float | None = None
        self.finished = Signal()
        self.ended = Signal()
        """Set when the connection thread has ended: joining it then returns at once."""
        self.ended.listen(self.finished.set)
        self._watchers: tuple[Listener, ...] = ()
        self._watching = threading.Lock()
        self.connection = Connection(endpoint, subscriptions, self._on_pushes, options, done=self.ended, trace=trace)

    def _on_pushes(self, pushes: dict[str, list[bytes]], received_ns: int, connection: int) -> None:
        """Route one socket read's pushes to their buffers, up to ``max_messages``."""
        limit = self.max_messages
        if limit is not None and self.accepted >= limit:
            return
        for kind, raw in pushes.items():
            buffer = self.buffers.get(kind)
            if buffer is None:
                self.unexpected += len(raw)
                continue
            if limit is not None and len(raw) > limit - self.accepted:
                raw = raw[: max(limit - self.accepted, 0)]
                if not raw:
                    continue
            buffer.extend(raw, received_ns, connection)
            self.accepted += len(raw)
            self.latest[kind] = Read(raw, received_ns, connection)
            self.arrivals[kind].append(Arrival(received_ns, len(raw)))
        self.last_push_at = received_ns / 1e9
        if limit is not None and self.accepted >= limit:
            self.connection.stop_soon()  # from this thread: no wait for the caller to wake up
            self.finished.set()
        for watcher in self._watchers:
            watcher()

    def watch(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on the connection's thread after each socket read's pushes were
        added to the buffers; returns what removes it."""
        with self._watching:
            self._watchers = (*self._watchers, listener)

        def remove() -> None:
            with self._watching:
                self._watchers = tuple(known for known in self._watchers if known is not listener)

        return remove

    def start(self) -> Feed:
        self.started_at = time.time()
        self.connection.start()
        return self

    def wait(self, seconds: float | None) -> bool:
        """Block until ``seconds`` pass or the feed finishes; returns whether it finished."""
        return self.finished.wait(seconds)

    def stop(self) -> None:
        """Unsubscribe, close and join the connection thread, then let the buffers' typing
        threads type what was handed to them and end."""
        self.connection.stop()
        for buffer in self.buffers.values():
            buffer.finish()

    @property
    def error(self) -> Exception | None:
        return self.connection.error

    def dataframe(self, kind: str | None = None) -> pd.DataFrame:
        """The DataFrame of ``kind`` (the only kind when there is one) so far."""
        return self._buffer(kind).dataframe()

    def take_dataframe(self, kind: str | None = None) -> pd.DataFrame:
        """Like :meth:`dataframe`, emptying the buffer: the way to take a finished feed's result
        without a second copy of the data in memory."""
        return self._buffer(kind).take_dataframe()

    def _buffer(self, kind: str | None) -> TableBuffer:
        if kind is None:
            if len(self.buffers) != 1:
                raise ValueError(f"kind must be one of {sorted(self.buffers)}")
            return next(iter(self.buffers.values()))
        return self.buffers[kind]

    def stats(self) -> dict[str, Any]:
        """Counters: messages accepted, connections, malformed and unknown frames."""
        stats = self.connection.stats()
        stats["messages"] = self.accepted
        stats["malformed"] += sum(b.malformed for b in self.buffers.values())
        stats["unknown"] += self.unexpected
        return stats

    def replies(self) -> pd.DataFrame:
        """The reply log: every answer the server gave to a request (login, subscribe,
        unsubscribe, logout, ping) with its time, how it was judged, its code and its text."""
        rows = self.connection.replies_so_far()
        return pd.DataFrame(
            {
                "time": pd.to_datetime([r.time for r in rows], unit="s", utc=True),
                "request": pd.Series([r.request for r in rows], dtype="str"),
                "outcome": pd.Series([r.outcome for r in rows], dtype="str"),
                "code": pd.Series([None if r.code is None else str(r.code) for r in rows], dtype="str"),
                "reply": pd.Series([r.text for r in rows], dtype="str"),
            }
        )

    def warnings(self) -> list[str]:
        """What went wrong without ending the run: refused subscriptions (the others went on)
        and subscriptions that stayed silent, in order."""
        return [e.reason for e in self.connection.events if e.event in ("refused", "silent")]

    def events(self) -> pd.DataFrame:
        """The gap log: connects, disconnects, stalls and failed attempts with times and reasons."""
        return gap_frame(list(self.connection.events))

    @property
    def state(self) -> str:
        """``connecting``, ``connected``, ``reconnecting``, ``stopped`` or ``failed``."""
        if self.error is not None:
            return "failed"
        if self.finished.is_set():
            return "stopped"
        if self.connection.ready.is_set():
            return "connected"
        return "reconnecting" if self.connection.number else "connecting"

    def rate(self, kind: str, window: float = RATE_WINDOW) -> float:
        """Pushes per second of ``kind`` over the last ``window`` seconds (or since the start)."""
        arrivals = self.arrivals[kind]
        reads = list(arrivals)
        if not reads or self.started_at is None:
            return 0.0
        now = time.time()
        span = min(window, now - self.started_at)
        inside = [r for r in reads if r.received_ns >= (now - span) * 1e9]
        if len(reads) == arrivals.maxlen and len(inside) == len(reads):
            span = now - reads[0].received_ns / 1e9  # older reads of the window were not kept
        return sum(r.pushes for r in inside) / span if span > 0 else 0.0

    def status(self, kind: str, *, rows: bool = True) -> dict[str, Any]:
        """The counters with the ``state``, the push ``rate`` of ``kind`` (per second), the
        ``rows`` held (unless ``rows`` is false: counting them types the pending pushes, under
        the lock ingestion waits for), the number of ``subscriptions``, the ``last_update`` and
        the newest ``warning``."""
        last = self.last_push_at
        warnings = self.warnings()
        return {
            "state": self.state,
            **self.stats(),
            "rate": self.rate(kind),
            **({"rows": self.buffers[kind].rows} if rows else {}),
            "subscriptions": len(self.connection.subscriptions),
            "last_update": None if last is None else pd.Timestamp(last, unit="s", tz="UTC"),
            "warning": warnings[-1] if warnings else None,
        }

    def status_line(self, kind: str, *, rows: bool = True) -> str:
        """The status as one short line: state, messages, rate, rows held (unless ``rows`` is
        false: a collector's chart outlives its buffer, which the result took), reconnects,
        problems, last update, warning."""
        status = self.status(kind, rows=rows)
        parts = [status["state"], f"{status['messages']:,} messages", f"{status['rate']:,.1f}/s"]
        if rows:
            parts.append(f"{status['rows']:,} rows")
        if status["subscriptions"] != 1:
            parts.insert(1, f"{status['subscriptions']} subscriptions")
        for name in ("reconnects", "malformed", "unknown"):
            if status[name]:
                parts.append(f"{status[name]:,} {name}")
        if status["last_update"] is not None:
            parts.append(f"last update {clock(status['last_update'])}")
        if status["warning"]:
            parts.append(f"warning: {status['warning']}")
        return " · ".join(parts)
