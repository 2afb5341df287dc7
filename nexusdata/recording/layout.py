"""A recording's layout on disk: where each push's rows go, the files' schema and format, and the
one walk over partitions that the reader, the writer and the compaction share.

A recording is ``DIR/feed=<table>/<key>=<value>/date=YYYY-MM-DD/part-*.parquet``: the feed is the
table's name (``depth``, ``orders``, ``pair_index_v3``, ...), the key ``symbol`` for Nexus tables
(the column then lives in the path only, as Hive tools expect) or ``id`` for ChaiNext topics (the
coin or index id; the data keeps its own id column), and the date is the UTC day of
``received_at``. Every file is written whole or not at all (:func:`parquet_file`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from datetime import time as clock_time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

import pyarrow as pa

from ..errors import ArgumentError
from ..frames import schema
from ..frames.columns import ARROW_TYPES
from ..kinds import KINDS
from ..protocol import SERVICES, Table

if TYPE_CHECKING:
    import pyarrow.parquet as pq

PARTITIONS: dict[str, tuple[str, str]] = {kind.name: (SERVICES[kind.service].key, kind.column) for kind in KINDS.values()}
"""Per feed (subscription kind): the partition key in the path and the column its value comes from."""

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
"""The path value of a missing key, as Hive, Spark and pyarrow write and read it."""


def file_schema(table: Table) -> pa.Schema:
    """The Arrow schema of a recording's files for ``table`` (without a path-only column)."""
    key, column = PARTITIONS[table.name]
    return pa.schema([(name, ARROW_TYPES[kind]) for name, kind in schema(table) if name != key or column != key])


def partition_dir(feed: str, value: str | None, day: date) -> Path:
    """The directory of one partition, relative to the recording's root (values URI-encoded)."""
    key, _ = PARTITIONS[feed]
    segment = quote(value, safe="") if value else NULL_PARTITION
    return Path(f"feed={feed}", f"{key}={segment}", f"date={day.isoformat()}")


def recording_root(path: str | Path) -> Path:
    """``path`` as a directory that holds a recording, else an :class:`ArgumentError`."""
    root = Path(path)
    if not root.is_dir():
        raise ArgumentError(f"path must be a recording directory; no directory at {str(root)!r}")
    return root


def recorded_feeds(path: str | Path) -> list[str]:
    """The feeds (table names) present in the recording at ``path``, sorted."""
    root = recording_root(path)
    return sorted(d.name[5:] for d in root.glob("feed=*") if d.is_dir() and d.name[5:] in PARTITIONS)


def recorded_keys(path: str | Path, feed: str) -> list[str]:
    """The symbols (Nexus feeds) or ids (ChaiNext topics) recorded for ``feed``, sorted."""
    key, _ = PARTITIONS[feed]
    folder = recording_root(path) / f"feed={feed}"
    prefix = f"{key}="
    return sorted(unquote(d.name[len(prefix) :]) for d in folder.glob(f"{prefix}*") if d.is_dir())


def partitions(
    root: Path, feed: str, values: Iterable[str] | None = None, first: date | None = None, last: date | None = None
) -> Iterator[Path]:
    """The partition directories of ``feed`` in the recording at ``root``, sorted by key value,
    then day: those of the key ``values`` (None: all) dated from ``first`` to ``last``, both
    included (None: unbounded). A ``date=`` directory not named by a day is no partition."""
    key, _ = PARTITIONS[feed]
    wanted = None if values is None else {quote(v, safe="") for v in values}
    for keyed in sorted((root / f"feed={feed}").glob(f"{key}=*")):
        if not keyed.is_dir() or (wanted is not None and keyed.name.split("=", 1)[1] not in wanted):
            continue
        for dated in sorted(keyed.glob("date=*")):
            day = day_named(dated.name[len("date=") :])
            if day is not None and dated.is_dir() and (first is None or day >= first) and (last is None or day <= last):
                yield dated


# -- days ------------------------------------------------------------------------------------------


def day_named(text: str) -> date | None:
    """The day a ``date=`` directory's name gives (``YYYY-MM-DD`` exactly), or None."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if day.isoformat() == text else None


def day_of(moment: datetime) -> date:
    """The UTC day holding ``moment`` (naive: UTC already), e.g. a ``received_at`` or a bound of a read."""
    return (moment.astimezone(timezone.utc) if moment.tzinfo is not None else moment).date()


def day_argument(value: object, name: str) -> date:
    """``value`` as a day, if it names one: ``YYYY-MM-DD``, a date, or a datetime at midnight (UTC
    if naive); else an :class:`ArgumentError` naming ``name``."""
    if isinstance(value, datetime):  # pandas.Timestamp too
        moment = value.astimezone(timezone.utc) if value.tzinfo is not None else value
        if moment.time() == clock_time(0):
            return moment.date()
    elif isinstance(value, date):
        return value
    elif isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ArgumentError(f"{name} must be a day, YYYY-MM-DD (partitions of the days before it are compacted), got {value!r}")


# -- files written whole ---------------------------------------------------------------------------


def sync(path: Path) -> None:
    """Make a file's data, or a directory's entries, durable (a directory only where the system
    allows opening one)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        if path.is_dir():
            return
        raise
    try:
        os.fsync(descriptor)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        os.close(descriptor)


@contextmanager
def parquet_file(path: Path, schema: pa.Schema) -> Iterator[pq.ParquetWriter]:
    """A writer of the Parquet file at ``path``, in the recording's format, that appears complete
    or not at all: written under a hidden temporary name (which readers skip), synced, then
    renamed into place when the block ends without an error. Recorder and compaction both write
    through it, so their files have the same options.

    Arrow writes the file itself (a Python file object would make it take the GIL for every
    write, each time waiting for the connection thread). Without the Arrow schema stored, a
    dictionary-encoded column is a plain string column to every reader (Parquet
    dictionary-encodes strings anyway), and its values are not decoded to be written. Every
    column but ``received_at`` is dictionary-encoded: its values differ from push to push, and
    without a dictionary it is written in 60% of the time, into fewer bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    import pyarrow.parquet as pq  # loaded by what writes, not by import nexusdata

    dictionary = [name for name in schema.names if name != "received_at"]
    # pyarrow takes a list of columns for use_dictionary; its stubs know only a bool
    with pq.ParquetWriter(
        str(temporary),
        schema,
        compression="zstd",
        use_dictionary=dictionary,  # type: ignore[arg-type]
        store_schema=False,
    ) as writer:
        yield writer
    sync(temporary)
    os.replace(temporary, path)


def write_whole(path: Path, data: bytes) -> None:
    """Write ``data`` at ``path`` whole or not at all, durably (its directory synced too)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    sync(temporary)
    os.replace(temporary, path)
    sync(path.parent)


def keyed_value(file: str | Path, key: str) -> str | None:
    """The decoded value of the ``key=`` directory in a file's path (None: the null partition)."""
    for part in Path(file).parts:
        if part.startswith(f"{key}="):
            value = part[len(key) + 1 :]
            return None if value == NULL_PARTITION else unquote(value)
    return None
