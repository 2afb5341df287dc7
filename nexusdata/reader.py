"""Recordings on disk: the Hive-partitioned Parquet layout the recorder writes, and reading it back
as the collectors' DataFrames.

A recording is ``DIR/feed=<table>/<key>=<value>/date=YYYY-MM-DD/part-*.parquet``: the feed is the
table's name (``depth``, ``orders``, ``pair_index_v3``, ...), the key ``symbol`` for Nexus tables
(the column then lives in the path only, as Hive tools expect) or ``id`` for ChaiNext topics (the
coin or index id; the data keeps its own id column), and the date is the UTC day of
``received_at``. Filters on the key, the dates and ``received_at`` are pushed down to pyarrow.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd
import pyarrow as pa

from .errors import ArgumentError
from .frames import Chunk, build_dataframe, schema
from .frames.columns import ARROW_TYPES, CONVERTERS
from .kinds import KINDS, ORDER_VIEWS, with_rows
from .protocol import TABLES, Table

if TYPE_CHECKING:
    import pyarrow.dataset as ds

PARTITIONS: dict[str, tuple[str, str]] = {
    kind.name: ("symbol" if kind.service == "nexus" else "id", kind.column) for kind in KINDS.values()
}
"""Per feed (subscription kind): the partition key in the path and the column its value comes from."""

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
"""The path value of a missing key, as Hive, Spark and pyarrow write and read it."""


def file_schema(table: Table) -> pa.Schema:
    """The Arrow schema of a recording's files for ``table`` (without a path-only column)."""
    key, column = PARTITIONS[table.name]
    return pa.schema([(name, ARROW_TYPES[kind]) for name, kind in schema(table) if name != key or column != key])


def partition_dir(feed: str, value: str | None, date: str) -> Path:
    """The directory of one partition, relative to the recording's root (values URI-encoded)."""
    key, _ = PARTITIONS[feed]
    segment = quote(value, safe="") if value else NULL_PARTITION
    return Path(f"feed={feed}", f"{key}={segment}", f"date={date}")


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


def read_recording(
    path: str | Path,
    feed: str | None = None,
    *,
    rows: str | None = None,
    symbol: str | Iterable[str] | None = None,
    id: str | int | Iterable[str | int] | None = None,
    start: Any = None,
    end: Any = None,
) -> pd.DataFrame:
    """Read a recording back as the collector of ``feed`` returns it: same columns, same dtypes,
    rows in arrival order.

    ``feed`` may be left out when the recording holds one feed; for ``"orders"``, ``rows=``
    chooses the view (``"orders"``, ``"cp_orders"``, ``"executions"``) as for
    :func:`~nexusdata.collect_orders`. ``symbol`` (Nexus feeds) or ``id``
    (ChaiNext topics) selects one or several partitions; ``start`` (inclusive) and ``end``
    (exclusive) bound ``received_at`` (anything :class:`pandas.Timestamp` takes; naive times
    are UTC). Only the matching directories and row groups are read.
    """
    dataset, table, filters = _scan(path, feed, rows, symbol, id, start, end)
    data = dataset.to_table(columns=[name for name, _ in schema(table)], filter=filters)
    return dataframe_of(table, data.sort_by("received_at"))


def dataframe_of(table: Table, data: pa.Table) -> pd.DataFrame:
    """Arrow data of a recording as the collector's DataFrame, typed by the frames layer itself."""
    if not data.num_rows:
        return build_dataframe(table, [])
    columns: dict[str, Any] = {}
    for name, kind in schema(table):
        if kind in ("id", "text"):
            columns[name] = data.column(name).combine_chunks()  # Arrow strings, as the frames layer keeps them
            continue
        values = data.column(name).to_numpy(zero_copy_only=False)
        if kind in ("received_at", "time"):
            columns[name] = values  # numpy datetime64 in UTC, the unit of the file
        elif kind == "connection":
            columns[name] = values.astype(np.int32)
        else:
            columns[name] = CONVERTERS[kind](values)  # type: ignore[index]
    return build_dataframe(table, [Chunk(columns, data.num_rows)])


def dataset_of(path: str | Path, feed: str) -> ds.Dataset:
    """The pyarrow dataset of one feed of a recording, with its key and ``date`` as string
    partition fields."""
    import pyarrow.dataset as ds  # loaded by what reads a recording, not by import nexusdata

    key, _ = PARTITIONS[feed]
    partitions = pa.schema([(key, pa.string()), ("date", pa.string())])
    file_fields = [f for f in file_schema(TABLES[feed]) if f.name not in partitions.names]
    return ds.dataset(
        recording_root(path) / f"feed={feed}",
        format="parquet",
        schema=pa.schema([*file_fields, *partitions]),
        partitioning=ds.partitioning(partitions, flavor="hive"),
    )


def summary(path: str | Path) -> pd.DataFrame:
    """One row per feed and symbol or id of the recording at ``path``: rows, pushes, first and
    last ``received_at``, connections and files."""
    parts = []
    for feed in recorded_feeds(path):
        key, _ = PARTITIONS[feed]
        dataset = dataset_of(path, feed)
        data = dataset.to_table(columns=[key, "received_at", "connection"])
        counts = data.group_by(key).aggregate(
            [
                ("received_at", "count"),
                ("received_at", "count_distinct"),
                ("received_at", "min"),
                ("received_at", "max"),
                ("connection", "max"),
            ]
        )
        files = pd.Series([_key_of(f, key) for f in dataset.files], dtype=object).value_counts()
        frame = pd.DataFrame(
            {
                "feed": feed,
                "key": counts[key].to_pylist(),
                "rows": counts["received_at_count"].to_numpy(),
                "pushes": counts["received_at_count_distinct"].to_numpy(),
                "first": counts["received_at_min"].to_pandas(),
                "last": counts["received_at_max"].to_pandas(),
                "connections": counts["connection_max"].to_numpy(),
            }
        )
        frame["files"] = frame["key"].map(files).fillna(0).astype(int)
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=["feed", "key", "rows", "pushes", "first", "last", "connections", "files"])
    return pd.concat(parts, ignore_index=True).sort_values(["feed", "key"], ignore_index=True)


def _key_of(file: str, key: str) -> str | None:
    """The decoded key value of a file's path."""
    for part in Path(file).parts:
        if part.startswith(f"{key}="):
            value = part[len(key) + 1 :]
            return None if value == NULL_PARTITION else unquote(value)
    return None


def _scan(
    path: str | Path, feed: str | None, rows: Any, symbol: Any, id: Any, start: Any, end: Any
) -> tuple[ds.Dataset, Table, ds.Expression | None]:
    """Check the arguments of :func:`read_recording`; the dataset, its table and the filter."""
    import pyarrow.dataset as ds

    feeds = recorded_feeds(path)
    if rows is not None or feed in ORDER_VIEWS:
        feed = with_rows("orders" if feed is None else feed, rows, stacklevel=4).name
    if feed is None:
        if len(feeds) != 1:
            raise ArgumentError(f"feed must be given: the recording holds {', '.join(feeds) or 'no feed'}")
        feed = feeds[0]
    if feed not in feeds:
        raise ArgumentError(f"feed must be one of the recorded feeds ({', '.join(feeds) or 'none'}), got {feed!r}")
    key, _ = PARTITIONS[feed]
    chosen, other = (symbol, id) if key == "symbol" else (id, symbol)
    if other is not None:
        wrong, right = ("id", "symbol") if key == "symbol" else ("symbol", "id")
        raise ArgumentError(f"{wrong} does not apply to {feed}; select its partitions with {right}=")
    start, end = _timestamp(start, "start"), _timestamp(end, "end")
    if start is not None and end is not None and start >= end:
        raise ArgumentError(f"start must be before end, got {start} and {end}")
    conditions = []
    if chosen is not None:
        conditions.append(ds.field(key).isin(_values(chosen, "symbol" if key == "symbol" else "id")))
    if start is not None:
        conditions += [ds.field("date") >= start.strftime("%Y-%m-%d"), ds.field("received_at") >= _scalar(start)]
    if end is not None:
        conditions += [ds.field("date") <= end.strftime("%Y-%m-%d"), ds.field("received_at") < _scalar(end)]
    filters = None
    for condition in conditions:
        filters = condition if filters is None else filters & condition
    return dataset_of(path, feed), TABLES[feed], filters


def _values(value: Any, name: str) -> list[str]:
    """One or several partition values as strings."""
    values = [value] if isinstance(value, (str, int)) else list(value)
    if not values or any(isinstance(v, bool) or not isinstance(v, (str, int)) or str(v) == "" for v in values):
        raise ArgumentError(f"{name} must be a non-empty string or a list of them, got {value!r}")
    return [str(v) for v in values]


def _scalar(stamp: pd.Timestamp) -> pa.Scalar:
    """A UTC timestamp as an Arrow scalar of ``received_at``'s type."""
    return pa.scalar(stamp.as_unit("ns").value, type=ARROW_TYPES["received_at"])


def _timestamp(value: Any, name: str) -> pd.Timestamp | None:
    """``value`` as a UTC timestamp (naive times are taken as UTC)."""
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"{name} must be a time (e.g. '2026-11-22 10:00' or a pandas.Timestamp), got {value!r}") from exc
    if stamp is pd.NaT:
        raise ArgumentError(f"{name} must be a time, got {value!r}")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
