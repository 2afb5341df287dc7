"""Columnar accumulation of one table's pushes, typed in chunks, joined into a DataFrame once.

The connection thread adds payloads a socket read at a time, flattened into column lists at once;
every ``chunk_rows`` rows these are typed into compact column arrays, so neither parsed dicts nor
per-message DataFrames pile up.
:meth:`TableBuffer.frame` joins the chunks, and may be called at any time from any thread.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..protocol.tables import Kind, Table
from .columns import CONVERTERS, Array, concat, to_series_values

log = logging.getLogger("nexusdata.frames")

META: tuple[tuple[str, str], ...] = (("received_at", "received_at"), ("connection", "connection"))
"""Columns every table gets first: when the push arrived and on which connection."""

_SHAPE_ERRORS = (TypeError, AttributeError, KeyError, ValueError, IndexError)


@dataclass
class Chunk:
    """Typed columns for a run of rows."""

    columns: dict[str, Array]
    rows: int

    def tail(self, n: int) -> Chunk:
        """The last ``n`` rows."""
        return Chunk({k: v[len(v) - n :] for k, v in self.columns.items()}, n)


def schema(table: Table) -> list[tuple[str, Kind | str]]:
    """Every column of ``table``'s DataFrame with its kind, in order."""
    return [*META, *table.columns]


class TableBuffer:
    """Rows of one table, appended push by push and read as a DataFrame.

    ``max_rows`` bounds memory for long-lived use (live handles): the oldest rows are dropped
    once more are held. ``None`` keeps everything.
    """

    def __init__(self, table: Table, *, chunk_rows: int = 16384, max_rows: int | None = None) -> None:
        self.table = table
        self.chunk_rows = chunk_rows
        self.max_rows = max_rows
        self.malformed = 0
        self.pushes = 0
        self._pending: dict[str, list[Any]] = {name: [] for name, _ in table.columns}
        self._pending_reads: list[tuple[int, int, list[int]]] = []  # (time, connection, push of each row)
        self._pending_rows = 0
        self._chunks: deque[Chunk] = deque()
        self._rows = 0
        self._lock = threading.Lock()

    def extend(self, payloads: list[Any], received_ns: int, connection: int) -> None:
        """Add the pushes of one socket read (called on the connection's thread).

        They are flattened at once, so the parsed JSON is freed at once (kept, it would make the
        garbage collector rescan a growing heap). They share the read's time; the n-th is
        stamped n nanoseconds later so every push keeps its own ``received_at``, in order.
        """
        columns, push = self._flatten(payloads)
        with self._lock:
            for name, values in columns.items():
                self._pending[name].extend(values)
            self._pending_reads.append((received_ns, connection, push))
            self._pending_rows += len(push)
            self.pushes += len(payloads)
            if self._pending_rows >= self.chunk_rows:
                self._seal()

    @property
    def rows(self) -> int:
        """Rows held (pending rows are typed first)."""
        with self._lock:
            self._seal()
            return self._rows

    def frame(self) -> pd.DataFrame:
        """Everything held so far as a typed DataFrame (a copy: later pushes do not change it)."""
        with self._lock:
            self._seal()
            chunks = list(self._chunks)
        return build_frame(self.table, chunks)

    def take_chunks(self) -> list[Chunk]:
        """Remove and return the typed chunks held so far (for writers that flush to disk)."""
        with self._lock:
            self._seal()
            chunks = list(self._chunks)
            self._chunks.clear()
            self._rows = 0
        return chunks

    # -- internals (lock held) -------------------------------------------------------------------

    def _seal(self) -> None:
        """Type the pending rows into a chunk."""
        if not self._pending_rows:
            return
        pending, reads, rows = self._pending, self._pending_reads, self._pending_rows
        self._pending = {name: [] for name in pending}
        self._pending_reads = []
        self._pending_rows = 0
        typed: dict[str, Array] = {
            "received_at": np.concatenate([t + np.asarray(push, dtype=np.int64) for t, _, push in reads]).view("datetime64[ns]"),
            "connection": np.concatenate([np.full(len(push), c, dtype=np.int32) for _, c, push in reads]),
        }
        for name, kind in self.table.columns:
            typed[name] = CONVERTERS[kind](pending[name])
        self._chunks.append(Chunk(typed, rows))
        self._rows += rows
        self._trim()

    def _flatten(self, payloads: Sequence[Any]) -> tuple[dict[str, list[Any]], list[int]]:
        """Flatten the batch; if some payload has the wrong shape, single it out, count it as
        malformed and keep the rest."""
        try:
            return self.table.flatten(payloads)
        except _SHAPE_ERRORS:
            pass
        good: list[int] = []
        for i, payload in enumerate(payloads):
            try:
                self.table.flatten([payload])
            except _SHAPE_ERRORS as exc:
                self.malformed += 1
                log.warning("malformed %s push dropped: %s", self.table.name, exc)
            else:
                good.append(i)
        columns, push = self.table.flatten([payloads[i] for i in good])
        return columns, [good[j] for j in push]

    def _trim(self) -> None:
        limit = self.max_rows
        if limit is None:
            return
        while self._rows > limit and self._chunks:
            oldest = self._chunks[0]
            excess = self._rows - limit
            if oldest.rows <= excess:
                self._chunks.popleft()
                self._rows -= oldest.rows
            else:
                self._chunks[0] = oldest.tail(oldest.rows - excess)
                self._rows -= excess


def build_frame(table: Table, chunks: Sequence[Chunk]) -> pd.DataFrame:
    """Join typed chunks into the table's DataFrame (also for zero chunks: right columns and
    dtypes, no rows)."""
    data: dict[str, Any] = {}
    for name, kind in schema(table):
        parts = [c.columns[name] for c in chunks]
        if name == "received_at":
            joined = np.concatenate(parts) if parts else np.empty(0, dtype="datetime64[ns]")
            data[name] = pd.DatetimeIndex(joined).tz_localize("UTC")
        elif name == "connection":
            data[name] = np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)
        else:
            data[name] = to_series_values(kind, concat(kind, parts))  # type: ignore[arg-type]
    return pd.DataFrame(data)
