"""Reading a recording back as the collectors' DataFrames, with pandas or Dask.

Filters on the key (symbol or id), the dates and ``received_at`` are pushed down to pyarrow, or
to Dask's ``read_parquet`` with ``engine="dask"`` (Dask is imported only then). The layout is
:mod:`nexusdata.recording.layout`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import ArgumentError
from ..frames import Chunk, build_dataframe, schema
from ..frames.columns import ARROW_CONVERTERS, ARROW_TYPES, CONVERTERS, STR_DTYPE
from ..kinds import ORDER_VIEWS, renamed, with_rows
from ..protocol import TABLES, Table
from .layout import NULL_PARTITION, PARTITIONS, day_of, file_schema, keyed_value, partitions, recorded_feeds, recording_root

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pyarrow.dataset as ds

ENGINES = ("pandas", "dask")
"""What :func:`read_recording` reads with: ``pandas`` (a DataFrame in memory, the default) or
``dask`` (a lazy Dask DataFrame, ``pip install "nexusdata[dask]"``)."""


@overload
def read_recording(
    path: str | Path,
    kind: str | None = None,
    *,
    rows: str | None = None,
    symbol: str | Iterable[str] | None = None,
    id: str | int | Iterable[str | int] | None = None,
    start: Any = None,
    end: Any = None,
    engine: Literal["pandas"] = "pandas",
    feed: str | None = None,
) -> pd.DataFrame: ...


@overload
def read_recording(
    path: str | Path,
    kind: str | None = None,
    *,
    rows: str | None = None,
    symbol: str | Iterable[str] | None = None,
    id: str | int | Iterable[str | int] | None = None,
    start: Any = None,
    end: Any = None,
    engine: Literal["dask"],
    feed: str | None = None,
) -> dd.DataFrame: ...


def read_recording(
    path: str | Path,
    kind: str | None = None,
    *,
    rows: str | None = None,
    symbol: str | Iterable[str] | None = None,
    id: str | int | Iterable[str | int] | None = None,
    start: Any = None,
    end: Any = None,
    engine: str = "pandas",
    feed: str | None = None,
) -> pd.DataFrame | dd.DataFrame:
    """Read a recording back as the collector of ``kind`` returns it: same columns, same dtypes,
    rows in arrival order.

    ``kind`` (``feed=`` is its former name, which warns) may be left out when the recording holds
    one kind; for ``"orders"``, ``rows=``
    chooses the view (``"orders"``, ``"cp_orders"``, ``"executions"``) as for
    :func:`~nexusdata.collect_orders`. ``symbol`` (Nexus feeds) or ``id``
    (ChaiNext topics) selects one or several partitions; ``start`` (inclusive) and ``end``
    (exclusive) bound ``received_at`` (anything :class:`pandas.Timestamp` takes; naive times
    are UTC). Only the matching directories and row groups are read.

    ``engine="dask"`` returns a lazy :class:`dask.dataframe.DataFrame` instead (needs
    ``pip install "nexusdata[dask]"``): the same columns and dtypes, the same filters pushed
    down, each partition in ``received_at`` order (docs/recording.md says what differs).
    """
    if engine not in ENGINES:
        raise ArgumentError(f"engine must be one of {', '.join(map(repr, ENGINES))}, got {engine!r}")
    dask = _dask_dataframe() if engine == "dask" else None  # refused before anything is read
    chosen = _select(path, renamed(kind, feed, "feed", "kind"), rows, symbol, id, start, end)
    if dask is not None:
        return _read_dask(dask, chosen)
    table = TABLES[chosen.feed]
    columns = [name for name, _ in schema(table)]
    for attempt in range(SCANS):
        try:
            data = dataset_of(chosen.root, chosen.feed).to_table(columns=columns, filter=_expression(chosen))
            break
        except FileNotFoundError:  # a compaction swapped a partition in between listing and reading it
            if attempt == SCANS - 1:
                raise
    return dataframe_of(table, in_arrival_order(data))


SCANS = 3
"""Times a read lists and reads the files again when one of them vanished meanwhile (a
compaction's swap, docs/recording.md): the new listing holds the merged files."""


def in_arrival_order(data: pa.Table) -> pa.Table:
    """``data`` sorted by ``received_at`` (stable: the rows of a push keep their order), or as it
    is when it already is (one recorder's files of one key are; a sort costs a copy)."""
    import pyarrow.compute as pc

    stamps = data.column("received_at")
    if len(stamps) < 2 or pc.all(pc.greater_equal(stamps[1:], stamps[:-1])).as_py():
        return data
    return data.sort_by("received_at")


def dataframe_of(table: Table, data: pa.Table) -> pd.DataFrame:
    """Arrow data of a recording as the collector's DataFrame, typed by the frames layer itself."""
    if not data.num_rows:
        return build_dataframe(table, [])
    columns: dict[str, Any] = {}
    for name, kind in schema(table):
        if kind in ("id", "text", "category"):
            strings = data.column(name).combine_chunks()
            strings = strings if strings.type == pa.string() else strings.cast(pa.string())  # pandas' are large_string
            # Arrow strings as the frames layer keeps them; categories dictionary-encoded by Arrow, as it encodes them
            columns[name] = ARROW_CONVERTERS[kind](strings) if kind == "category" else strings
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
        files = pd.Series([keyed_value(f, key) for f in dataset.files], dtype=object).value_counts()
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


@dataclass(frozen=True)
class _Selection:
    """The checked arguments of :func:`read_recording`: what to read."""

    root: Path
    feed: str
    key: str  # the partition key: ``symbol`` or ``id``
    values: list[str] | None  # the key's values chosen, None for all
    start: pd.Timestamp | None
    end: pd.Timestamp | None


def _select(path: str | Path, feed: str | None, rows: Any, symbol: Any, id: Any, start: Any, end: Any) -> _Selection:
    """Check the arguments of :func:`read_recording` (called by it directly: the deprecation
    warning of a view named as the feed points at the user's call)."""
    feeds = recorded_feeds(path)
    if rows is not None or feed in ORDER_VIEWS:
        feed = with_rows("orders" if feed is None else feed, rows, stacklevel=4).name
    if feed is None:
        if len(feeds) != 1:
            raise ArgumentError(f"kind must be given: the recording holds {', '.join(feeds) or 'no kind'}")
        feed = feeds[0]
    if feed not in feeds:
        raise ArgumentError(f"kind must be one of the recorded kinds ({', '.join(feeds) or 'none'}), got {feed!r}")
    key, _ = PARTITIONS[feed]
    chosen, other = (symbol, id) if key == "symbol" else (id, symbol)
    if other is not None:
        wrong, right = ("id", "symbol") if key == "symbol" else ("symbol", "id")
        raise ArgumentError(f"{wrong} does not apply to {feed}; select its partitions with {right}=")
    start, end = _timestamp(start, "start"), _timestamp(end, "end")
    if start is not None and end is not None and start >= end:
        raise ArgumentError(f"start must be before end, got {start} and {end}")
    values = None if chosen is None else _values(chosen, key)
    return _Selection(recording_root(path), feed, key, values, start, end)


def _expression(chosen: _Selection) -> ds.Expression | None:
    """The selection as a pyarrow filter: the key and the dates select directories,
    ``received_at`` is checked against each row group's statistics and then row by row."""
    import pyarrow.dataset as ds

    conditions = []
    if chosen.values is not None:
        conditions.append(ds.field(chosen.key).isin(chosen.values))
    if chosen.start is not None:
        conditions += [ds.field("date") >= day_of(chosen.start).isoformat(), ds.field("received_at") >= _scalar(chosen.start)]
    if chosen.end is not None:
        conditions += [ds.field("date") <= day_of(chosen.end).isoformat(), ds.field("received_at") < _scalar(chosen.end)]
    filters = None
    for condition in conditions:
        filters = condition if filters is None else filters & condition
    return filters


# Reading with Dask ----------------------------------------------------------------------------


def _dask_dataframe() -> Any:
    """``dask.dataframe``, or an :class:`ArgumentError` saying how to install it."""
    try:
        import dask.dataframe
    except ImportError as exc:
        raise ArgumentError(f'engine="dask" needs Dask, which is not installed ({exc}): pip install "nexusdata[dask]"') from exc
    return dask.dataframe


def _partition_files(chosen: _Selection) -> list[Path]:
    """The Parquet files of the partitions the selection keeps (the key's values, the dates
    from ``start``'s day to ``end``'s), sorted by path: key, date, then file name, which begins
    with the file's first ``received_at``. Hidden and temporary files are left out, as every
    reader leaves them out; nothing in another partition is opened."""
    first = None if chosen.start is None else day_of(chosen.start)
    last = None if chosen.end is None else day_of(chosen.end)
    files = []
    for partition in partitions(chosen.root, chosen.feed, chosen.values, first, last):
        files += sorted(f for f in partition.glob("*.parquet") if not f.name.startswith((".", "_")) and f.is_file())
    return files


def _read_dask(dask_dataframe: Any, chosen: _Selection) -> dd.DataFrame:
    """The selection as a lazy Dask DataFrame of the collector's columns and dtypes.

    Dask opens the first file it is given to learn the schema, whatever the filters say, so the
    partitions are chosen here first (by directory names) and Dask gets their files; the same
    conditions are also passed to ``read_parquet`` as filters, which prunes row groups by their
    ``received_at`` statistics and drops the rows outside ``[start, end)`` (to the microsecond:
    each partition applies the nanoseconds). Files of one key
    and date may be joined into one partition (``aggregate_files="date"``, up to Dask's
    ``blocksize``); each partition is then typed by :func:`dataframe_of`, as the pandas reader
    types its table, and sorted by ``received_at``.
    """
    table = TABLES[chosen.feed]
    files = _partition_files(chosen)
    known = _known_keys(chosen, files)
    meta = _dask_meta(table, chosen.key, known)
    if not files:
        return dask_dataframe.from_pandas(meta, npartitions=1)
    filters: list[tuple[str, str, Any]] = []
    if chosen.values is not None:
        filters.append((chosen.key, "in", chosen.values))
    # Dask compares received_at's statistics with these in Python and turns a Timestamp into an
    # Arrow microsecond scalar: bounds widened to whole microseconds keep every row that belongs,
    # and each partition then applies the exact nanosecond bounds itself.
    if chosen.start is not None:
        filters += [("date", ">=", day_of(chosen.start).isoformat()), ("received_at", ">=", chosen.start.floor("us"))]
    if chosen.end is not None:
        filters += [("date", "<=", day_of(chosen.end).isoformat()), ("received_at", "<", chosen.end.ceil("us"))]
    partitions = pa.schema([(chosen.key, pa.string()), ("date", pa.string())])
    raw = dask_dataframe.read_parquet(
        [str(f) for f in files],
        columns=None,  # all, with the key and date: selecting fewer makes Dask fuse partitions across keys
        filters=filters or None,
        index=False,
        calculate_divisions=False,
        split_row_groups="adaptive",
        aggregate_files="date",
        dataset={"partitioning": {"flavor": "hive", "schema": partitions}},
    )
    return raw.map_partitions(_collector_partition, chosen.feed, known, chosen.start, chosen.end, meta=meta)


def _known_keys(chosen: _Selection, files: list[Path]) -> list[str] | None:
    """The categories of the key column when it is one of the table's columns (``symbol`` of
    the Nexus tables, in the path only): the values of the partitions read."""
    if chosen.key not in dict(schema(TABLES[chosen.feed])):
        return None
    values = {f.parent.parent.name.split("=", 1)[1] for f in files}
    return sorted(unquote(v) for v in values if v != NULL_PARTITION)


def _dask_meta(table: Table, key: str, known: list[str] | None) -> pd.DataFrame:
    """The empty collector DataFrame Dask is told to expect: the key's categories known (when it
    is a column), every other category's unknown, as Dask marks categories it has not read."""
    from dask.dataframe.utils import clear_known_categories

    meta = build_dataframe(table, [])
    unknown = [name for name, kind in schema(table) if kind == "category" and name != key]
    meta = clear_known_categories(meta, cols=unknown)
    if known is not None:
        meta[key] = meta[key].cat.set_categories(pd.Index(known, dtype=STR_DTYPE))
    return meta


def _collector_partition(
    part: pd.DataFrame, feed: str, known: list[str] | None, start: pd.Timestamp | None, end: pd.Timestamp | None
) -> pd.DataFrame:
    """One partition as Dask read it, cut to ``[start, end)`` to the nanosecond, typed as the
    collector's DataFrame and sorted by ``received_at`` (runs in the workers)."""
    import pyarrow.compute as pc

    table = TABLES[feed]
    data = pa.Table.from_pandas(part, preserve_index=False)
    stamps = data.column("received_at")
    if start is not None:
        data = data.filter(pc.greater_equal(stamps, _scalar(start)))
        stamps = data.column("received_at")
    if end is not None:
        data = data.filter(pc.less(stamps, _scalar(end)))
    frame = dataframe_of(table, in_arrival_order(data))
    if known is not None:
        key, _ = PARTITIONS[feed]
        frame[key] = frame[key].cat.set_categories(pd.Index(known, dtype=STR_DTYPE))
    return frame


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
