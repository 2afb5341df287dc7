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
import os
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
from ..protocol.tables import ColumnType, Table
from .arrow_json import read_frames
from .columns import CONVERTERS, Array, NotColumnar, concat, equal, take, to_arrow, to_series_values, utc_times

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


ARROW_FROM = 64
"""Frames from which a batch is typed by Arrow's JSON reader; fewer are typed element by element,
which is faster for them (Arrow's reader and explode cost 0.6-1 ms a call whatever the batch,
element by element 0.16-0.34 ms for one push; even at about 64)."""

TYPISTS = min(2, os.cpu_count() or 1)
"""Typing threads a buffer runs at most: two keep both cores of a 2-core machine busy under a
flood (with the connection's thread, whose share is small); more would only wait for the GIL."""

CALM_FILL_NS = 1_000_000_000
"""A batch that took this long or longer to fill (fewer than ``chunk_frames`` pushes a second)
is typed on the connection's thread, which has the time; a faster feed's batches go to typing
threads. A calm feed (a live chart's, a soak test's) then starts no thread at all."""

SMALL_CHUNK = 4096
"""Rows below which a newly typed chunk is joined to a small one before it (joining costs little
at this size; a read then joins a few chunks, not one per early typing)."""


def schema(table: Table) -> list[tuple[str, ColumnType | str]]:
    """Every column of ``table``'s DataFrame with its kind, in order."""
    return [*META, *table.columns]


class _Batch(NamedTuple):
    """Raw frames sealed for typing, with the reads they came in."""

    frames: list[bytes]
    reads: list[tuple[int, int, int]]  # (time, connection, frames) of each read


class TableBuffer:
    """Rows of one table, appended push by push and read as a DataFrame.

    ``max_rows`` bounds memory for long-lived use (live handles): the oldest rows are dropped
    once more are held. ``None`` keeps everything.

    Rows are numbered in order of arrival over the buffer's life (0 is the first row ever typed),
    whether still held or dropped: a reader that keeps the number after the last row it read
    (:meth:`since`) reads each row once, without the buffer keeping a copy for it.

    Every ``chunk_frames`` frames are sealed into a batch that the buffer's typing threads (at
    most ``typists``) type while the connection's thread goes on reading the socket: Arrow's
    reader and compute let go of the GIL, so they share the machine's cores. Batches may be typed
    side by side but join the buffer in order. A batch that took a second or more to fill is
    typed on the connection's thread instead (:data:`CALM_FILL_NS`). A typing thread ends as
    soon as no batch waits, so a buffer leaves none behind; while more than ``waiting`` batches
    are sealed and not yet typed, the connection's thread waits (memory stays bounded when
    typing falls behind, and TCP's flow control slows the server). A reader that needs every push typed (:meth:`dataframe`,
    :attr:`rows`, :meth:`tail`, :meth:`take_chunks`) seals what is pending and waits for it,
    typing it itself when no thread is at work (a calm feed).
    """

    def __init__(
        self, table: Table, *, chunk_frames: int = 1024, max_rows: int | None = None, typists: int = TYPISTS, waiting: int = 2
    ) -> None:
        self.table = table
        self.chunk_frames = chunk_frames
        self.max_rows = max_rows
        self.typists = typists
        self.waiting = waiting
        self.malformed = 0
        self.pushes = 0
        self._frames: list[bytes] = []
        self._reads: list[tuple[int, int, int]] = []  # (time, connection, frames) of each read
        self._batches: deque[tuple[int, _Batch]] = deque()  # sealed and not yet taken by a typist, by number
        self._sealed = 0  # batches sealed so far (the next one's number)
        self._typed = 0  # batches typed and joined so far, in order
        self._done: dict[
            int, tuple[Chunk | None, int, int]
        ] = {}  # typed (chunk, malformed, pushes), by number, waiting for an earlier one
        self._busy = 0  # batches being typed
        self._typed_pushes = 0  # pushes of the batches typed and joined
        self._workers: set[threading.Thread] = set()
        self._chunks: deque[Chunk] = deque()
        self._rows = 0
        self._first = 0  # the number of the oldest row held: rows dropped or taken before it
        self._cut_ns: int | None = None  # received_at of the newest row dropped by max_rows
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a batch was typed, or a typing thread ended

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
                filled_in = received_ns - self._reads[0][0]
                self._seal()
                if filled_in >= CALM_FILL_NS and not self._workers:  # a calm feed: typed here, no thread started
                    self._type_next()
                elif len(self._workers) < self.typists:  # the batch waits while the others type theirs
                    worker = threading.Thread(target=self._work, name=f"nexusdata-typing-{self.table.name}", daemon=True)
                    self._workers.add(worker)
                    worker.start()
                while self._sealed - self._typed > self.waiting:
                    self._changed.wait()

    @property
    def rows(self) -> int:
        """Rows held (pending rows are typed first)."""
        with self._lock:
            self._settle()
            return self._rows

    @property
    def typed_rows(self) -> int:
        """Rows typed so far, without waiting for those being typed or pending."""
        return self._rows

    def dataframe(self) -> pd.DataFrame:
        """Everything held so far as a typed DataFrame (a copy: later pushes do not change it)."""
        with self._lock:
            self._settle()
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
        takes only the pushes typed already, without waiting for any (the typing thread types
        the rest once a chunk's worth has arrived): a chart of a flood then shows the pushes up
        to the last chunk typed. Only ``columns`` are built, if named (those a chart reads).
        ``where=(column, value)`` keeps only the rows holding ``value`` in ``column`` (one symbol
        or id of several), and counts only their pushes."""
        picked: list[Chunk] = []
        with self._lock:
            if pending:
                self._settle()
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
            held = self._first + self._rows - since
            if held >= rows:
                return True
            if not self._frames and self._typed == self._sealed:
                return False  # nothing is pending
            typed = self._typed_pushes
            if typed and held + (self.pushes - typed) * (self._first + self._rows) / typed < rows:
                return False
            self._settle()
            return self._first + self._rows - since >= rows

    def since(self, row: int) -> Since:
        """The rows numbered ``row`` and after, as a DataFrame (pending pushes are typed first),
        with the number of the next row and how many rows from ``row`` on were dropped
        (``max_rows``) before they could be read. Whole pushes only: the rest of a push whose
        older rows were dropped counts as dropped too."""
        with self._lock:
            self._settle()
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
            self._settle()
            chunks = list(self._chunks)
            self._chunks.clear()
            self._first += self._rows
            self._rows = 0
        return chunks

    def finish(self, timeout: float | None = None) -> None:
        """Wait until the batches sealed so far are typed and the typing threads have ended
        (once no more frames come: the feed stopped). Pending frames stay for a reader."""
        with self._lock:
            target = self._sealed
            while self._typed < target and (self._workers or self._busy):
                if not self._changed.wait(timeout):
                    break
            workers = list(self._workers)
        for worker in workers:
            worker.join(timeout)

    # -- internals (lock held) -------------------------------------------------------------------

    def _seal(self) -> None:
        """Queue the pending frames as the next batch to type."""
        if self._frames:
            self._batches.append((self._sealed, _Batch(self._frames, self._reads)))
            self._frames, self._reads = [], []
            self._sealed += 1

    def _settle(self) -> None:
        """Type every push held: seal what is pending and wait until every batch sealed so far
        has joined, typing the next one here while no typing thread is at work."""
        self._seal()
        target = self._sealed
        while self._typed < target:
            if self._batches and not self._workers:
                self._type_next()
            else:
                self._changed.wait()

    def _work(self) -> None:
        """A typing thread: types the next batch until none waits, then ends."""
        with self._lock:
            try:
                while self._batches:
                    self._type_next()
            finally:
                self._workers.discard(threading.current_thread())
                self._changed.notify_all()

    def _type_next(self) -> None:
        """Type the next batch with the lock released (the connection's thread, readers of typed
        rows and another typist go on meanwhile), then join every typed batch that is next in
        order."""
        number, batch = self._batches.popleft()
        self._busy += 1
        self._lock.release()
        try:
            chunk, malformed = _type(self.table, batch)
            done: tuple[Chunk | None, int, int] = chunk, malformed, len(batch.frames)
        except Exception:  # a bug must not leave readers waiting for this batch forever
            log.exception("%s batch of %d pushes could not be typed; dropped", self.table.name, len(batch.frames))
            done = None, len(batch.frames), len(batch.frames)
        except BaseException:  # Ctrl-C while a reader typed: the batch waits for the next typist
            self._lock.acquire()
            self._busy -= 1
            self._batches.appendleft((number, batch))
            self._changed.notify_all()
            raise
        self._lock.acquire()
        self._busy -= 1
        self._done[number] = done
        while self._typed in self._done:
            joined, malformed, pushes = self._done.pop(self._typed)
            self.malformed += malformed
            self._typed_pushes += pushes
            if joined is not None and joined.rows:
                self._add(joined)
            self._typed += 1
        self._changed.notify_all()

    def _add(self, chunk: Chunk) -> None:
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


def _type(table: Table, batch: _Batch) -> tuple[Chunk, int]:
    """A batch typed into a chunk, columnar with Arrow's JSON reader or element by element when
    the batch is small or Arrow cannot take it as it is, and the malformed pushes it dropped."""
    frames, reads = batch
    malformed = 0
    if len(frames) < ARROW_FROM:  # a few pushes typed early (a reader's, on a calm feed)
        columns, push, malformed = type_elementwise(table, frames)
    else:
        try:
            columns, push = read_frames(table, frames)
        except NotColumnar as exc:
            log.debug("%s batch typed element-wise: %s", table.name, exc)
            columns, push, malformed = type_elementwise(table, frames)
    if len(reads) == 1:
        ((time, connection, n),) = reads
        received = time + np.arange(n, dtype=np.int64)
        connections = np.full(n, connection, dtype=np.int32)
    else:
        received = np.concatenate([t + np.arange(n, dtype=np.int64) for t, _, n in reads])
        connections = np.concatenate([np.full(n, c, dtype=np.int32) for _, c, n in reads])
    chunk = Chunk({"received_at": received[push].view("datetime64[ns]"), "connection": connections[push], **columns}, len(push))
    return chunk, malformed


def type_elementwise(table: Table, frames: list[bytes]) -> tuple[dict[str, Array], np.ndarray, int]:
    """The reference path: decode each frame, flatten in Python, convert each value. Returns
    the columns, each row's frame and how many pushes were dropped as malformed."""
    payloads: list[Any] = []
    for frame in frames:
        try:
            payloads.append(orjson.loads(frame)[table.envelope])
        except (orjson.JSONDecodeError, KeyError, TypeError, RecursionError):
            payloads.append(None)  # counted as malformed by _flatten
    (columns, push), misshapen = _flatten(table, payloads)
    columns, push, unscalar = _drop_unscalar(table, columns, push)
    typed = {name: CONVERTERS[kind](columns[name]) for name, kind in table.columns}
    return typed, np.asarray(push, dtype=np.intp), misshapen + unscalar


def _drop_unscalar(table: Table, columns: dict[str, list[Any]], push: list[int]) -> tuple[dict[str, list[Any]], list[int], int]:
    """Drop, as malformed, every push with a list or object where a column wants a value."""
    bad = {push[i] for values in columns.values() for i, v in enumerate(values) if isinstance(v, (list, dict))}
    if not bad:
        return columns, push, 0
    log.warning("%d malformed %s push(es) dropped: a list or object where a value belongs", len(bad), table.name)
    keep = [i for i, p in enumerate(push) if p not in bad]
    return {name: [values[i] for i in keep] for name, values in columns.items()}, [push[i] for i in keep], len(bad)


def _flatten(table: Table, payloads: Sequence[Any]) -> tuple[tuple[dict[str, list[Any]], list[int]], int]:
    """Flatten the batch; if some payload has the wrong shape, single it out, count it as
    malformed and keep the rest."""
    try:
        return table.flatten(payloads), 0
    except _SHAPE_ERRORS:
        pass
    good: list[int] = []
    for i, payload in enumerate(payloads):
        try:
            table.flatten([payload])
        except _SHAPE_ERRORS as exc:
            # str(): a log record must not keep the exception, and through it the payload
            log.warning("malformed %s push dropped: %s", table.name, f"{type(exc).__name__}: {exc}"[:200])
        else:
            good.append(i)
    columns, push = table.flatten([payloads[i] for i in good])
    return (columns, [good[j] for j in push]), len(payloads) - len(good)


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


def _concat(name: str, kind: ColumnType | str, parts: list[Array]) -> Array:
    """One column's chunks joined, as numpy or a categorical."""
    if name in _META_DTYPES:
        return np.concatenate(parts) if parts else np.empty(0, dtype=_META_DTYPES[name])
    return concat(kind, parts)  # type: ignore[arg-type]


def _join(name: str, kind: ColumnType | str, parts: list[Array]) -> Any:
    """One column's chunks joined as the DataFrame holds it (``received_at`` UTC-aware)."""
    values = _concat(name, kind, parts)
    if name == "received_at":
        return utc_times(cast(np.ndarray, values))
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
