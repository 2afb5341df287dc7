"""Recording a feed to a Hive-partitioned Parquet dataset for hours or days.

A :class:`~nexusdata.feed.Feed` fills its buffers in the background; every ``flush_seconds`` (or
``flush_rows`` rows) the caller's thread takes the typed chunks, joins them into an Arrow table
(a recorder needs no DataFrame) and writes one small, closed Parquet file per partition (temp
name, then an atomic rename). Memory stays flat however long it runs, and a recorder killed
outright loses at most the last interval while every file already written stays readable. The
layout is :mod:`nexusdata.recording.layout`'s.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..checks import check_flag, positive_int, positive_number
from ..config import split_conn
from ..errors import ArgumentError
from ..feed import Feed
from ..frames import build_table
from ..kinds import KINDS, Kind, Subscription, renamed, with_rows
from ..progress import RunProgress
from ..protocol import SERVICES, Table
from ..run import run
from .layout import PARTITIONS, file_schema, parquet_file, partition_dir

log = logging.getLogger("nexusdata.record")

FEEDS: tuple[str, ...] = tuple(KINDS)
"""What can be recorded: every subscription kind by name (``depth``, ``orders`` and its views
``cp_orders`` and ``executions``, ``risk`` and the ChaiNext topics)."""

_CHECK = 0.02  # seconds between checks of the rows typed: at a flood's 1-1.5 million rows a second, 0.1 s let 2-3 flushes' worth pile up


@dataclass(frozen=True)
class RecordingSummary:
    """What a recording run wrote, and the connection's counters (``connection``, ``reconnects``,
    ``messages``, ``malformed``, ``unknown``)."""

    path: Path
    kind: str
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

    @property
    def feed(self) -> str:
        """The kind recorded, under its former name (deprecated: use :attr:`kind`)."""
        warnings.warn("RecordingSummary.feed is deprecated: use .kind", DeprecationWarning, stacklevel=2)
        return self.kind

    def __str__(self) -> str:
        connections = self.stats.get("connection", 0)
        return (
            f"recorded {self.stats.get('messages', 0)} pushes ({self.rows} rows) of {self.kind} into {self.files}"
            f" files under {self.path} in {self.seconds:.1f}s over {connections} connection(s)"
            + (" (interrupted)" if self.interrupted else "")
            + "".join(f"\n  refused: {refusal}" for refusal in self.refused)
        )


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
            day = received[rows[0]].astype("datetime64[D]").item()
            first = int(received[rows[0]].astype(np.int64))
            name = f"part-{first:020d}-{self.run}-{self.files:06d}.parquet"
            path = self.root / partition_dir(self.table.name, values[code] if code >= 0 else None, day) / name
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
    """Write ``data`` as a Parquet file that appears complete or not at all (see
    :func:`parquet_file`)."""
    with parquet_file(path, data.schema) as writer:
        writer.write_table(data)


def shard_of(value: str, count: int) -> int:
    """The shard (0 to ``count - 1``) that records the partition key ``value`` (a symbol or an
    id): a stable hash of its UTF-8 text, the same on every machine, Python and run (unlike
    :func:`hash`), so that recorders started with the same keys and ``--shard i/n`` split them
    without talking to each other."""
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


SHARD_FORM = "I/N: this recorder's number I, from 0 to N-1, of N recorders (e.g. '0/3', or (0, 3) in Python)"


def check_shard(shard: object) -> tuple[int, int]:
    """``shard`` (``"i/n"`` or an ``(i, n)`` pair) as ``(i, n)`` with ``0 <= i < n``, else an
    :class:`ArgumentError` naming the accepted form."""
    pair: tuple[int, int] | None = None
    if isinstance(shard, str):
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", shard, re.ASCII)
        if match:
            pair = int(match[1]), int(match[2])
    elif isinstance(shard, (tuple, list)) and len(shard) == 2:
        index, count = shard
        if all(isinstance(p, int) and not isinstance(p, bool) for p in (index, count)):
            pair = index, count
    if pair is not None and 0 <= pair[0] < pair[1]:
        return pair
    raise ArgumentError(f"shard must be {SHARD_FORM}, got {shard!r}")


def select_shard(kind: Kind, subscriptions: Sequence[Subscription], shard: object) -> tuple[Subscription, ...]:
    """The subscriptions of ``kind`` that shard ``shard`` (see :func:`check_shard`) records: those
    whose partition key (symbol or id) :func:`shard_of` gives to it. An :class:`ArgumentError`
    for the orders (no key to split) or when the shard gets none of them."""
    index, count = check_shard(shard)
    if kind.key is None:
        raise ArgumentError(f"shard splits symbols or ids between recorders; {kind.name} has none: record it from one recorder")
    chosen = tuple(s for s in subscriptions if shard_of(kind.value_of(s) or "", count) == index)
    if not chosen:
        what = f"{SERVICES[kind.service].key}s"
        raise ArgumentError(
            f"shard {index}/{count} gets none of the {len(subscriptions)} {what} given; give more {what} or run fewer recorders"
        )
    return chosen


def record(
    out: str | Path,
    kind: str | None = None,
    *keys: Any,
    seconds: float | None = None,
    depth: int = 5,
    rows: str | None = None,
    max_messages: int | None = None,
    flush_seconds: float = 5.0,
    flush_rows: int = 100_000,
    progress: bool = True,
    shard: str | tuple[int, int] | None = None,
    feed: str | None = None,
    **conn: Any,
) -> RecordingSummary:
    """Record the subscription ``kind`` (``depth``, ``orders``, ``risk`` or a ChaiNext topic;
    ``feed=`` is its former name, which warns) into the Parquet dataset at ``out`` until
    ``seconds`` pass (``None``: until interrupted) or ``max_messages`` pushes arrive.

    ``keys`` are what to subscribe to: symbols for ``depth``, ``(symbol, book)`` pairs for
    ``risk``, coin or index ids for a ChaiNext topic, nothing for ``orders`` (``rows=`` chooses
    the view of the account's orders, as for :func:`~nexusdata.collect_orders`: ``"orders"``,
    ``"cp_orders"`` or ``"executions"``; they are written under that name). Several symbols or ids share one
    connection. Rows are flushed every ``flush_seconds`` or ``flush_rows`` rows. ``progress``
    shows pushes, their rate, rows and files written in a terminal or notebook. ``shard``
    (``"i/n"`` or ``(i, n)``) records only the keys that fall to recorder ``i`` of ``n`` started
    with the same keys (see :func:`shard_of`), so that a fleet splits them deterministically. Reconnects are
    survived (the ``connection`` column numbers them); Ctrl-C ends the recording after a last
    flush.
    ``**conn`` takes the collectors' credentials and options. Read it back with
    :func:`nexusdata.read_recording`.
    """
    chosen = with_rows(renamed(kind, feed, "feed", "kind"), rows)
    subscriptions = chosen.subscriptions(keys, depth)
    if shard is not None:
        subscriptions = select_shard(chosen, subscriptions, shard)
        log.info("shard %s records %s", "/".join(map(str, check_shard(shard))), chosen.labels(subscriptions))
    deadline = math.inf if seconds is None else positive_number(seconds, "seconds")
    limit = None if max_messages is None else positive_int(max_messages, "max_messages")
    interval = positive_number(flush_seconds, "flush_seconds")
    row_limit = positive_int(flush_rows, "flush_rows")
    shown = check_flag(progress, "progress")
    endpoint, options, _ = split_conn(chosen.service, conn)
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise ArgumentError(f"out must be a directory; {str(root)!r} is a file")
    root.mkdir(parents=True, exist_ok=True)
    tables = {subscriptions[0].kind: chosen.table}
    writers = {push: DatasetWriter(root, table) for push, table in tables.items()}
    live = Feed(endpoint, subscriptions, tables, options, max_messages=limit)
    next_flush = time.monotonic() + interval

    def flush_when_due() -> None:
        nonlocal next_flush
        # rows typed so far: counting the rest would wait for the typing threads on this thread
        if time.monotonic() >= next_flush or sum(b.typed_rows for b in live.buffers.values()) >= row_limit:
            _flush(live, writers)
            next_flush = time.monotonic() + interval

    def written() -> str:
        rows, files = sum(w.rows for w in writers.values()), sum(w.files for w in writers.values())
        return f"{rows:,} rows · {files:,} files · connection {live.connection.number}"

    bar = RunProgress(f"recording {chosen.name}", deadline, limit, enabled=shown)
    outcome = run(
        live,
        deadline,
        bar=bar,
        on_tick=flush_when_due,
        more=written,
        on_stop=lambda: _flush(live, writers),  # whatever ended the run, then the bar shows it written
        tick=_CHECK,
        on_interrupt="writing what arrived and stopping",
    )
    summary = RecordingSummary(
        root,
        chosen.name,
        rows=sum(w.rows for w in writers.values()),
        files=sum(w.files for w in writers.values()),
        seconds=outcome.elapsed,
        interrupted=outcome.interrupted,
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
