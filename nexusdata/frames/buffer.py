"""Columnar accumulation of one table's pushes, typed in chunks, joined into a DataFrame once.

The connection thread adds the raw frames of each socket read; every ``chunk_frames`` frames
they are read into compact typed columns in one go (Arrow's JSON reader, or element by element
when Arrow cannot), so neither parsed dicts nor per-message DataFrames pile up.
:meth:`TableBuffer.frame` joins the chunks, and may be called at any time from any thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from collections import deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from ..errors import ArgumentError
from ..protocol.tables import Kind, Table
from .arrow_json import read_frames
from .columns import CONVERTERS, Array, NotColumnar, concat, equal, take, to_arrow, to_series_values

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


class Since(NamedTuple):
    """What :meth:`TableBuffer.since` read: the rows, the number of the row after them, and how
    many rows were dropped before they could be read."""

    frame: pd.DataFrame
    next: int
    dropped: int


ARROW_FROM = 32
"""Frames from which a batch is typed by Arrow's JSON reader; fewer are typed element by element,
which is faster for them (1.3 ms for one frame against 3.3 ms; even at 32)."""

SMALL_CHUNK = 4096
"""Rows below which a newly typed chunk is joined to a small one before it (joining costs little
at this size; a read then joins a few chunks, not one per early typing)."""


def schema(table: Table) -> list[tuple[str, Kind | str]]:
    """Every column of ``table``'s DataFrame with its kind, in order."""
    return [*META, *table.columns]


class TableBuffer:
    """Rows of one table, appended push by push and read as a DataFrame.

    ``max_rows`` bounds memory for long-lived use (live handles): the oldest rows are dropped
    once more are held. ``None`` keeps everything.

    Rows are numbered in order of arrival over the buffer's life (0 is the first row ever typed),
    whether still held or dropped: a reader that keeps the number after the last row it read
    (:meth:`since`) reads each row once, without the buffer keeping a copy for it.
    """

    def __init__(self, table: Table, *, chunk_frames: int = 1024, max_rows: int | None = None) -> None:
        self.table = table
        self.chunk_frames = chunk_frames
        self.max_rows = max_rows
        self.malformed = 0
        self.pushes = 0
        self._frames: list[bytes] = []
        self._reads: list[tuple[int, int, int]] = []  # (time, connection, frames) of each read
        self._chunks: deque[Chunk] = deque()
        self._rows = 0
        self._first = 0  # the number of the oldest row held: rows dropped or taken before it
        self._cut_ns: int | None = None  # received_at of the newest row dropped by max_rows
        self._lock = threading.Lock()

    def extend(self, frames: list[bytes], received_ns: int, connection: int) -> None:
        """Add the raw push frames of one socket read (called on the connection's thread).

        Raw bytes cost the garbage collector nothing, unlike parsed JSON. The frames share the
        read's time; the n-th is stamped n nanoseconds later so every push keeps its own
        ``received_at``, in order.
        """
        with self._lock:
            self._frames.extend(frames)
            self._reads.append((received_ns, connection, len(frames)))
            self.pushes += len(frames)
            if len(self._frames) >= self.chunk_frames:
                self._seal()

    @property
    def rows(self) -> int:
        """Rows held (pending rows are typed first)."""
        with self._lock:
            self._seal()
            return self._rows

    def dataframe(self) -> pd.DataFrame:
        """Everything held so far as a typed DataFrame (a copy: later pushes do not change it)."""
        with self._lock:
            self._seal()
            chunks = list(self._chunks)
        return build_dataframe(self.table, chunks)

    def tail(
        self,
        pushes: int,
        *,
        pending: bool = True,
        columns: Collection[str] | None = None,
        where: tuple[str, str] | None = None,
    ) -> pd.DataFrame:
        """The rows of the newest ``pushes`` pushes held, as a DataFrame: what a live chart
        draws, as cheap however much the buffer holds (no push is typed twice). ``pending=False``
        leaves the frames not yet typed to the connection's thread (which types them once a
        chunk's worth has arrived) instead of typing them here, under the lock that thread waits
        for: a chart of a flood then shows the pushes up to the last chunk typed. Only ``columns``
        are built, if named (those a chart reads). ``where=(column, value)`` keeps only the rows
        holding ``value`` in ``column`` (one symbol or id of several), and counts only their pushes."""
        picked: list[Chunk] = []
        with self._lock:
            if pending:
                self._seal()
            count = 0
            for chunk in reversed(self._chunks):
                if count >= pushes:
                    break
                if where is not None:
                    kept = equal(chunk.columns[where[0]], where[1])
                    if not kept.all():
                        rows = np.flatnonzero(kept)
                        if not len(rows):
                            continue
                        chunk = Chunk({name: take(values, rows) for name, values in chunk.columns.items()}, len(rows))
                # a push's rows share one received_at; each change starts the next push
                # (received_at, like every META column, is a numpy array)
                starts = np.flatnonzero(np.diff(cast(np.ndarray, chunk.columns["received_at"]).view(np.int64))) + 1
                held = len(starts) + 1
                if count + held > pushes:
                    chunk = chunk.tail(chunk.rows - int(starts[held - 1 - (pushes - count)]))
                    held = pushes - count
                picked.append(chunk)
                count += held
        return build_dataframe(self.table, picked[::-1], columns=columns)

    @property
    def first(self) -> int:
        """The number of the oldest row held (see the class docstring)."""
        with self._lock:
            return self._first

    def holds(self, rows: int, since: int) -> bool:
        """Whether at least ``rows`` rows numbered ``since`` and after are held. Pending pushes
        are typed only when, at the rows per push typed so far, they would make up the count: a
        reader waiting for a batch of rows asks after every socket read, and typing each read
        alone would cost a flood the Arrow reader's batching."""
        with self._lock:
            if self._first + self._rows - since >= rows:
                return True
            if not self._frames:
                return False
            typed = self.pushes - len(self._frames)
            if typed and self._first + self._rows - since + len(self._frames) * (self._first + self._rows) / typed < rows:
                return False
            self._seal()
            return self._first + self._rows - since >= rows

    def since(self, row: int) -> Since:
        """The rows numbered ``row`` and after, as a DataFrame (pending pushes are typed first),
        with the number of the next row and how many rows from ``row`` on were dropped
        (``max_rows``) before they could be read. Whole pushes only: the rest of a push whose
        older rows were dropped counts as dropped too."""
        with self._lock:
            self._seal()
            start = max(row, self._first)
            picked: list[Chunk] = []
            wanted = self._first + self._rows - start
            for chunk in reversed(self._chunks):
                if wanted <= 0:
                    break
                picked.append(chunk if chunk.rows <= wanted else chunk.tail(wanted))
                wanted -= picked[-1].rows
            end = self._first + self._rows
            cut = self._cut_ns if start > row else None
        picked.reverse()
        if cut is not None and picked:  # a push cut in two by max_rows: its rest is dropped too
            times = cast(np.ndarray, picked[0].columns["received_at"]).view(np.int64)
            rest = int(np.argmax(times != cut)) if times[-1] != cut else len(times)
            start += rest
            picked[0] = picked[0].tail(picked[0].rows - rest)
        return Since(build_dataframe(self.table, picked), end, start - row)

    def take_dataframe(self) -> pd.DataFrame:
        """Everything held, as a DataFrame, emptying the buffer (for a collector's result: no
        second copy of the data is made on the way)."""
        return build_dataframe(self.table, self.take_chunks(), consume=True)

    def take_chunks(self) -> list[Chunk]:
        """Remove and return the typed chunks held so far (for writers that flush to disk)."""
        with self._lock:
            self._seal()
            chunks = list(self._chunks)
            self._chunks.clear()
            self._first += self._rows
            self._rows = 0
        return chunks

    # -- internals (lock held) -------------------------------------------------------------------

    def _seal(self) -> None:
        """Type the pending frames into a chunk: columnar with Arrow's JSON reader, or element by
        element when the batch is small or Arrow cannot take it as it is."""
        if not self._frames:
            return
        frames, reads = self._frames, self._reads
        self._frames, self._reads = [], []
        if len(frames) < ARROW_FROM:  # a few pushes typed early: Arrow's reader costs ~3 ms a call whatever the batch
            columns, push = self._type_elementwise(frames)
        else:
            try:
                columns, push = read_frames(self.table, frames)
            except NotColumnar as exc:
                log.debug("%s batch typed element-wise: %s", self.table.name, exc)
                columns, push = self._type_elementwise(frames)
        received = np.concatenate([t + np.arange(n, dtype=np.int64) for t, _, n in reads])
        connection = np.concatenate([np.full(n, c, dtype=np.int32) for _, c, n in reads])
        chunk = Chunk(
            {"received_at": received[push].view("datetime64[ns]"), "connection": connection[push], **columns}, len(push)
        )
        if chunk.rows:
            last = self._chunks[-1] if self._chunks else None
            if last is not None and chunk.rows < SMALL_CHUNK and last.rows < SMALL_CHUNK:
                # a few pushes typed early (a live chart's, on a calm feed) join the small chunk
                # before them: hundreds of tiny chunks made every read join hundreds of pieces
                self._chunks[-1] = Chunk(
                    {name: _concat(name, kind, [last.columns[name], chunk.columns[name]]) for name, kind in schema(self.table)},
                    last.rows + chunk.rows,
                )
            else:
                self._chunks.append(chunk)
            self._rows += chunk.rows
            self._trim()

    def _type_elementwise(self, frames: list[bytes]) -> tuple[dict[str, Array], np.ndarray]:
        """The reference path: decode each frame, flatten in Python, convert each value."""
        payloads: list[Any] = []
        for frame in frames:
            try:
                payloads.append(orjson.loads(frame)[self.table.envelope])
            except (orjson.JSONDecodeError, KeyError, TypeError, RecursionError):
                payloads.append(None)  # counted as malformed by _flatten
        columns, push = self._drop_unscalar(*self._flatten(payloads))
        return {name: CONVERTERS[kind](columns[name]) for name, kind in self.table.columns}, np.asarray(push, dtype=np.intp)

    def _drop_unscalar(self, columns: dict[str, list[Any]], push: list[int]) -> tuple[dict[str, list[Any]], list[int]]:
        """Drop, as malformed, every push with a list or object where a column wants a value."""
        bad = {push[i] for values in columns.values() for i, v in enumerate(values) if isinstance(v, (list, dict))}
        if not bad:
            return columns, push
        self.malformed += len(bad)
        log.warning("%d malformed %s push(es) dropped: a list or object where a value belongs", len(bad), self.table.name)
        keep = [i for i, p in enumerate(push) if p not in bad]
        return {name: [values[i] for i in keep] for name, values in columns.items()}, [push[i] for i in keep]

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
                # str(): a log record must not keep the exception, and through it the payload
                log.warning("malformed %s push dropped: %s", self.table.name, f"{type(exc).__name__}: {exc}"[:200])
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
            dropped = min(oldest.rows, excess)
            self._cut_ns = int(cast(np.ndarray, oldest.columns["received_at"]).view(np.int64)[dropped - 1])
            if oldest.rows <= excess:
                self._chunks.popleft()
            else:
                self._chunks[0] = oldest.tail(oldest.rows - excess)
            self._rows -= dropped
            self._first += dropped


def build_dataframe(
    table: Table, chunks: Sequence[Chunk], *, consume: bool = False, columns: Collection[str] | None = None
) -> pd.DataFrame:
    """Join typed chunks into the table's DataFrame (also for zero chunks: right columns and
    dtypes, no rows), or into those of its ``columns`` named. With ``consume`` each chunk
    column is released once joined (and the freed heap handed back to the system), so building
    costs about one column above the result instead of a second copy of everything."""
    data: dict[str, Any] = {}
    for name, kind in schema(table):
        if columns is not None and name not in columns:
            continue
        parts = [c.columns.pop(name) if consume else c.columns[name] for c in chunks]
        data[name] = _join(name, kind, parts)
        if consume:
            parts.clear()
            _give_back_freed_heap()
    # pandas-stubs 3 spell the constructor's result typing.Self, which mypy reads as Any for Python 3.10
    return cast(pd.DataFrame, pd.DataFrame(data, copy=False))


def build_table(table: Table, chunks: Sequence[Chunk], *, consume: bool = False) -> pa.Table:
    """The same rows as :func:`build_dataframe`, as an Arrow table (categories dictionary-encoded,
    missing values null), for writers: no DataFrame is built. Each column is joined first and
    handed to Arrow in one call: a call per chunk would wait for the GIL each time the
    connection thread holds it."""
    columns: dict[str, pa.Array[Any]] = {}
    for name, kind in schema(table):
        columns[name] = to_arrow(kind, _concat(name, kind, [c.columns.pop(name) if consume else c.columns[name] for c in chunks]))
    return pa.table(columns)


_META_DTYPES: dict[str, Any] = {"received_at": "datetime64[ns]", "connection": np.int32}


def _concat(name: str, kind: Kind | str, parts: list[Array]) -> Array:
    """One column's chunks joined, as numpy or a categorical."""
    if name in _META_DTYPES:
        return np.concatenate(parts) if parts else np.empty(0, dtype=_META_DTYPES[name])
    return concat(kind, parts)  # type: ignore[arg-type]


def _join(name: str, kind: Kind | str, parts: list[Array]) -> Any:
    """One column's chunks joined as the DataFrame holds it (``received_at`` UTC-aware)."""
    values = _concat(name, kind, parts)
    if name == "received_at":
        return pd.DatetimeIndex(cast(np.ndarray, values)).tz_localize("UTC")
    if name == "connection":
        return values
    return to_series_values(kind, values)  # type: ignore[arg-type]


try:  # glibc keeps freed small blocks in its heap; malloc_trim returns them to the system
    _malloc_trim: Any = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
except (OSError, AttributeError):  # not glibc: nothing to do
    _malloc_trim = None


def _give_back_freed_heap() -> None:
    if _malloc_trim is not None:
        _malloc_trim(0)


def latest_push(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of the newest push (those sharing the last ``received_at``)."""
    if df.empty:
        return df
    newest: pd.DataFrame = df[df["received_at"] == df["received_at"].iloc[-1]]
    return newest


def frame_with(df: Any, argument: str, what: str, columns: Iterable[str]) -> pd.DataFrame:
    """``df`` if it is a DataFrame holding ``columns``, else an :class:`ArgumentError` naming the
    ``argument``, ``what`` it must be and the columns it lacks (the check every chart and analytics function makes of its DataFrame)."""
    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(f"{argument} must be {what}, got {type(df).__name__}")
    missing = [name for name in columns if name not in df.columns]
    if missing:
        raise ArgumentError(f"{argument} must be {what}; it lacks the columns {', '.join(missing)}")
    return df
