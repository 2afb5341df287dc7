"""Recording a feed to a Hive-partitioned Parquet dataset for hours or days.

A :class:`~nexusdata.feed.Feed` fills its buffers in the background; every ``flush_seconds`` (or
``flush_rows`` rows) the caller's thread takes the typed chunks, joins them into an Arrow table
(a recorder needs no DataFrame) and writes one small, closed Parquet file per partition (temp
name, then an atomic rename). Memory stays flat however long it runs, and a recorder killed
outright loses at most the last interval while every file already written stays readable. The
layout is described in :mod:`nexusdata.reader`.
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .collectors import (
    ORDER_TABLES,
    check_flag,
    depth_subscription,
    index_subscription,
    order_table,
    risk_subscription,
    wait_interruptibly,
)
from .config import Feed as FeedName
from .config import positive_int, positive_number, split_conn
from .errors import ArgumentError
from .feed import Feed
from .frames import build_table
from .progress import interactive
from .protocol import Table, chainext, nexus, tables
from .reader import PARTITIONS, file_schema, partition_dir

log = logging.getLogger("nexusdata.record")

FEEDS: tuple[str, ...] = tuple(PARTITIONS)
"""What can be recorded: every table by name (``depth``, ``orders``, ``cp_orders``,
``executions``, ``risk`` and the ChaiNext topics)."""

_CHECK = 0.1  # seconds between checks of the rows held (and updates of the progress line)


@dataclass(frozen=True)
class Plan:
    """What one recording subscribes to: the endpoint, the subscriptions and the table per kind."""

    endpoint: FeedName
    subscriptions: tuple[Any, ...]
    tables: dict[str, Table]


@dataclass(frozen=True)
class RecordingSummary:
    """What a recording run wrote, and the connection's counters (``connection``, ``reconnects``,
    ``messages``, ``malformed``, ``unknown``)."""

    path: Path
    feed: str
    rows: int
    files: int
    seconds: float
    interrupted: bool
    stats: dict[str, int]
    refused: tuple[str, ...] = ()
    """The server's refusals of subscriptions that ended alone (the others were recorded)."""
    warnings: tuple[str, ...] = ()
    """Refusals and subscriptions that stayed silent, in order."""
    replies: tuple[dict[str, Any], ...] = ()
    """The reply log: the server's answer to every request, as in a collector's ``attrs``."""
    gaps: tuple[dict[str, Any], ...] = ()
    """The gap log: connects, disconnects, stalls, failed attempts, as in a collector's ``attrs``."""

    def __str__(self) -> str:
        connections = self.stats.get("connection", 0)
        return (
            f"recorded {self.stats.get('messages', 0)} pushes ({self.rows} rows) of {self.feed} into {self.files}"
            f" files under {self.path} in {self.seconds:.1f}s over {connections} connection(s)"
            + (" (interrupted)" if self.interrupted else "")
            + "".join(f"\n  refused: {refusal}" for refusal in self.refused)
        )


def plan(feed: object, keys: Iterable[Any], depth: object = 5) -> Plan:
    """Check what to record: ``depth`` takes symbols, ``risk`` (symbol, book) pairs, a ChaiNext
    topic coin or index ids, the order views nothing."""
    keys = list(keys)
    if feed == "depth":
        books = _required([depth_subscription(s, depth) for s in keys], "depth", "a symbol")
        return Plan("nexus", books, {nexus.MARKETDEPTH: tables.DEPTH})
    if feed in ORDER_TABLES:
        if keys:
            raise ArgumentError(f"{feed} records the account's orders and takes no symbol or id, got {keys!r}")
        return Plan("nexus", (nexus.orders(),), {nexus.ORDER: order_table(feed)})
    if feed == "risk":
        positions = _required([risk_subscription(*_risk_pair(k)) for k in keys], "risk", "a (symbol, book) pair")
        return Plan("nexus", positions, {nexus.RISK_POSITION: tables.RISK})
    if feed in chainext.TOPICS:
        topic = str(feed)
        return Plan("chainext", _required([index_subscription(topic, k) for k in keys], topic, "an id"), {topic: chainext.TOPICS[topic]})
    raise ArgumentError(f"feed must be one of {', '.join(FEEDS)}, got {feed!r}")


def _required(subscriptions: list[Any], feed: str, what: str) -> tuple[Any, ...]:
    """The subscriptions without repeats; at least one."""
    if not subscriptions:
        raise ArgumentError(f"recording {feed} needs at least {what}")
    return tuple(dict.fromkeys(subscriptions))


def _risk_pair(key: Any) -> tuple[Any, Any]:
    if isinstance(key, str) or not isinstance(key, (tuple, list)) or len(key) != 2:
        raise ArgumentError(f"risk is recorded per (symbol, book) pair, got {key!r}")
    return key[0], key[1]


class DatasetWriter:
    """Appends one table's rows to a recording: per call, one closed Parquet file per
    partition (feed, symbol or id, UTC date of ``received_at``)."""

    def __init__(self, root: Path, table: Table) -> None:
        self.root = root
        self.table = table
        self.schema = file_schema(table)
        self.key_column = PARTITIONS[table.name][1]
        self.run = uuid.uuid4().hex[:8]  # tells apart recorders writing to one shared directory
        self.files = 0
        self.rows = 0

    def write(self, data: pa.Table) -> None:
        """Write ``data`` (the table's columns as :func:`~nexusdata.frames.build_table` makes
        them; categories may be dictionary-encoded) into its partitions."""
        if not data.num_rows:
            return
        received = data.column("received_at").to_numpy()
        days = received.astype("datetime64[D]").astype(np.int64)
        codes, values = _codes(data.column(self.key_column))
        # One integer per (key, day) partition; a flush usually holds a single one.
        partition = (codes + 1) * (days.max() - days.min() + 1) + (days - days.min())
        data = data.select(self.schema.names)
        if (partition == partition[0]).all():
            groups = [np.arange(data.num_rows)]
        else:
            order = np.argsort(partition, kind="stable")
            groups = np.split(order, np.flatnonzero(np.diff(partition[order])) + 1)
        for rows in groups:
            code = codes[rows[0]]
            date = str(received[rows[0]].astype("datetime64[D]"))
            first = int(received[rows[0]].astype(np.int64))
            name = f"part-{first:020d}-{self.run}-{self.files:06d}.parquet"
            path = self.root / partition_dir(self.table.name, values[code] if code >= 0 else None, date) / name
            _write_file(data if len(groups) == 1 else data.take(rows), path)
            self.files += 1
            self.rows += len(rows)


def _codes(keys: pa.ChunkedArray) -> tuple[np.ndarray, list[str | None]]:
    """An integer per row for the partition key's value (-1 where missing), and the values."""
    if not pa.types.is_dictionary(keys.type):
        keys = pc.dictionary_encode(keys)
    keys = keys.unify_dictionaries()
    codes = np.concatenate([c.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64) for c in keys.chunks])
    values = keys.chunk(0).dictionary.cast(pa.string()).to_pylist()
    return codes, values


def _write_file(data: pa.Table, path: Path) -> None:
    """Write ``data`` as a Parquet file that appears complete or not at all: written under a
    hidden temporary name (which readers skip), synced, then renamed into place.

    Arrow writes the file itself (a Python file object would make it take the GIL for every
    write, each time waiting for the connection thread). Without the Arrow schema stored, a
    dictionary-encoded column is a plain string column to every reader (Parquet
    dictionary-encodes strings anyway), and its values are not decoded to be written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    pq.write_table(data, str(temporary), compression="zstd", store_schema=False)
    descriptor = os.open(temporary, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)


def record(
    out: str | Path,
    feed: str,
    *keys: Any,
    seconds: float | None = None,
    depth: int = 5,
    max_messages: int | None = None,
    flush_seconds: float = 5.0,
    flush_rows: int = 100_000,
    progress: bool = True,
    **conn: Any,
) -> RecordingSummary:
    """Record ``feed`` into the Parquet dataset at ``out`` until ``seconds`` pass (``None``: until
    interrupted) or ``max_messages`` pushes arrive.

    ``keys`` are what to subscribe to: symbols for ``depth``, ``(symbol, book)`` pairs for
    ``risk``, coin or index ids for a ChaiNext topic, nothing for ``orders``, ``cp_orders`` or
    ``executions`` (one view of the account's orders). Several symbols or ids share one
    connection. Rows are flushed every ``flush_seconds`` or ``flush_rows`` rows. ``progress``
    shows pushes, their rate, rows and files written in a terminal or notebook. Reconnects are
    survived (the ``connection`` column numbers them); Ctrl-C ends the recording after a last
    flush.
    ``**conn`` takes the collectors' credentials and options. Read it back with
    :func:`nexusdata.read_recording`.
    """
    what = plan(feed, keys, depth)
    deadline = math.inf if seconds is None else positive_number(seconds, "seconds")
    limit = None if max_messages is None else positive_int(max_messages, "max_messages")
    interval = positive_number(flush_seconds, "flush_seconds")
    row_limit = positive_int(flush_rows, "flush_rows")
    shown = check_flag(progress, "progress") and interactive()
    endpoint, options, _ = split_conn(what.endpoint, conn)
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise ArgumentError(f"out must be a directory; {str(root)!r} is a file")
    root.mkdir(parents=True, exist_ok=True)
    writers = {kind: DatasetWriter(root, table) for kind, table in what.tables.items()}
    live = Feed(endpoint, what.subscriptions, what.tables, options, max_messages=limit)
    started = time.monotonic()
    interrupted = False
    from tqdm.auto import tqdm  # imported on demand: in a notebook it loads ipywidgets

    bar = tqdm(desc=f"recording {feed}", unit=" pushes", disable=not shown, mininterval=_CHECK)
    live.start()
    try:
        end = started + deadline
        next_flush = started + interval
        while not live.finished.is_set() and time.monotonic() < end:
            now = time.monotonic()
            wait_interruptibly(live, max(min(end, next_flush, now + _CHECK) - now, 0))
            if time.monotonic() >= next_flush or sum(b.rows for b in live.buffers.values()) >= row_limit:
                _flush(live, writers)
                next_flush = time.monotonic() + interval
            _show(bar, live, writers)
    except KeyboardInterrupt:
        interrupted = True
        log.warning("interrupted: writing what arrived and stopping")
    finally:
        live.stop()
        _flush(live, writers)
        _show(bar, live, writers)
        bar.close()
    summary = RecordingSummary(
        root,
        str(feed),
        rows=sum(w.rows for w in writers.values()),
        files=sum(w.files for w in writers.values()),
        seconds=time.monotonic() - started,
        interrupted=interrupted,
        stats=live.stats(),
        refused=tuple(str(e) for e in live.connection.refused.values()),
        warnings=tuple(live.warnings()),
        replies=tuple(r._asdict() for r in live.connection.replies_so_far()),
        gaps=tuple(asdict(e) for e in live.connection.events),
    )
    log.info("%s", summary)
    if live.error is not None:
        raise live.error
    return summary


def _flush(live: Feed, writers: dict[str, DatasetWriter]) -> None:
    """Move everything the buffers hold into the dataset."""
    for kind, buffer in live.buffers.items():
        chunks = buffer.take_chunks()
        if chunks:
            writers[kind].write(build_table(buffer.table, chunks, consume=True))


def _show(bar: Any, live: Feed, writers: dict[str, DatasetWriter]) -> None:
    """Bring the progress line up to date: pushes (and their rate), rows and files written, the
    connection number."""
    bar.update(live.accepted - bar.n)
    rows, files = sum(w.rows for w in writers.values()), sum(w.files for w in writers.values())
    bar.set_postfix(rows=rows, files=files, connection=live.connection.number, refresh=False)
