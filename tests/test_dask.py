"""Reading recordings with Dask: ``read_recording(..., engine="dask")`` on a LocalCluster of two
worker processes gives the pandas reader's rows, columns and dtypes; the filters prune partitions
and row groups before anything is read; the plain ``dd.read_parquet`` recipe of
docs/recording.md works as written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dask.distributed import Client, LocalCluster

import nexusdata as nd
from nexusdata.protocol import TABLES
from nexusdata.recording.writer import DatasetWriter
from nexusdata.sim import Simulator

# dask 2026.8 calls DataFrame.reset_index(inplace=True), which pandas 3.1 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index:DeprecationWarning")

FEEDS = ("depth", "pair_index_v3", "orders")


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Depth of two symbols, pair_index_v3 of two coins and orders, recorded side by side with
    a file every 0.2 s (many small files, as a recorder leaves them)."""
    root = tmp_path_factory.mktemp("recording")
    with Simulator(seed=5, rate=100.0) as sim, ThreadPoolExecutor(3) as pool:
        runs = [
            pool.submit(
                nd.record, root, "depth", "BTCUSDT", "ETHUSDT", seconds=1, flush_seconds=0.2, progress=False, **sim.nexus
            ),
            pool.submit(nd.record, root, "pair_index_v3", "1", "0", seconds=1, flush_seconds=0.2, progress=False, **sim.chainext),
            pool.submit(nd.record, root, "orders", seconds=1, flush_seconds=0.2, progress=False, **sim.nexus),
        ]
        assert all(run.result().rows > 0 for run in runs)
    return root


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """A local cluster of two worker processes (one thread each) on 127.0.0.1, started once for
    the module; while it is open, ``compute()`` runs on it."""
    with (
        LocalCluster(processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster,
        Client(cluster) as c,
    ):
        yield c


@pytest.fixture
def copy(recording: Path, tmp_path: Path) -> Path:
    """A copy of the recording a test may damage."""
    return Path(shutil.copytree(recording, tmp_path / "copy"))


def _pid(part: pd.DataFrame) -> pd.Series:
    return pd.Series([os.getpid()] * len(part), index=part.index, dtype="int64")


def _partition_checks(part: pd.DataFrame, key: str) -> pd.DataFrame:
    """Per partition: its rows are in received_at order, and how many keys it holds."""
    keys = part[key].nunique() if key in part else 1
    return pd.DataFrame({"in_order": [part["received_at"].is_monotonic_increasing], "keys": [keys], "rows": [len(part)]})


def as_pandas_reads(computed: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """The computed rows in the pandas reader's order (received_at across partitions, stable),
    with its index and its categories' order (the same categories, listed in another order)."""
    assert list(computed.columns) == list(expected.columns)
    assert computed.dtypes.tolist() == expected.dtypes.tolist()  # a categorical's dtype: its set of categories
    ordered = computed.sort_values("received_at", kind="stable", ignore_index=True)
    for name in ordered.select_dtypes("category"):
        ordered[name] = ordered[name].cat.reorder_categories(expected[name].cat.categories)
    return ordered


def middle_of(recording: Path) -> pd.Timestamp:
    depth = nd.read_recording(recording, "depth")
    return depth["received_at"].iloc[len(depth) // 2]


SELECTIONS: list[tuple[str, dict[str, Any]]] = [
    ("depth", {}),
    ("depth", {"symbol": "ETHUSDT"}),
    ("depth", {"symbol": ["ETHUSDT", "BTCUSDT"], "start": "middle"}),
    ("depth", {"end": "middle"}),
    ("pair_index_v3", {}),
    ("pair_index_v3", {"id": 1, "start": "middle"}),
    ("orders", {}),
]


@pytest.mark.parametrize(("feed", "options"), SELECTIONS, ids=[f"{f}-{'-'.join(o) or 'all'}" for f, o in SELECTIONS])
def test_local_cluster_computes_what_the_pandas_reader_reads(
    recording: Path, client: Client, feed: str, options: dict[str, Any]
) -> None:
    options = {k: middle_of(recording) if v == "middle" else v for k, v in options.items()}
    expected = nd.read_recording(recording, feed, **options)
    ddf = nd.read_recording(recording, feed, **options, engine="dask")
    assert isinstance(ddf, dd.DataFrame) and len(expected) > 0
    assert list(ddf.columns) == list(expected.columns)
    assert ddf.dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()
    computed = ddf.compute()
    pd.testing.assert_frame_equal(as_pandas_reads(computed, expected), expected)  # exact: values, dtypes, order
    key = "symbol" if feed != "pair_index_v3" else "underlying_cid"
    checks = ddf.map_partitions(_partition_checks, key, meta={"in_order": bool, "keys": int, "rows": int}).compute()
    assert checks["in_order"].all() and (checks["keys"] <= 1).all() and checks["rows"].sum() == len(expected)
    workers = set(ddf.map_partitions(_pid, meta=("pid", "int64")).compute())
    assert workers and os.getpid() not in workers  # computed in the cluster's worker processes


def test_each_key_comes_in_time_order_across_partitions(recording: Path, client: Client) -> None:
    """Partitions follow the files' paths (key, date, file name: the first received_at), so one
    recorder's rows of one key come back in order without a sort; across keys there is no order."""
    ddf = nd.read_recording(recording, "depth", engine="dask")
    computed = ddf.compute()
    assert computed["symbol"].tolist() == sorted(computed["symbol"])  # BTCUSDT's partitions, then ETHUSDT's
    for _, rows in computed.groupby("symbol", observed=True):
        assert rows["received_at"].is_monotonic_increasing
    assert not computed["received_at"].is_monotonic_increasing  # the two symbols interleave in time
    assert computed.index.tolist() != list(range(len(computed)))  # each partition's index starts at 0
    assert ddf.npartitions < len(list((recording / "feed=depth").rglob("*.parquet")))  # small files joined


def test_categories_of_the_key_are_known_others_are_not(recording: Path) -> None:
    ddf = nd.read_recording(recording, "depth", engine="dask")
    assert ddf["symbol"].cat.known and list(ddf["symbol"].cat.categories) == ["BTCUSDT", "ETHUSDT"]
    assert not ddf["side"].cat.known and not ddf["cp"].cat.known
    assert set(ddf["side"].cat.as_known().cat.categories) == {"bid", "ask"}  # one pass over the data
    eth = nd.read_recording(recording, "depth", symbol="ETHUSDT", engine="dask")
    assert list(eth["symbol"].cat.categories) == ["ETHUSDT"]
    orders = nd.read_recording(recording, "orders", engine="dask")
    assert orders["symbol"].cat.known and not orders["side"].cat.known
    v3 = nd.read_recording(recording, "pair_index_v3", engine="dask")
    assert not v3["underlying_symbol"].cat.known  # the id is no column of a ChaiNext table
    # known categories allow what unknown ones refuse
    pivot = ddf.pivot_table(index="level", columns="symbol", values="price", aggfunc="count").compute()
    depth = nd.read_recording(recording, "depth")
    assert pivot["BTCUSDT"].sum() == (depth["symbol"] == "BTCUSDT").sum()


def test_key_categories_list_the_partitions_read_even_without_rows_in_the_window(recording: Path) -> None:
    """What differs from the pandas reader: the key's categories are the symbols whose
    directories were read, decided before the rows are; pandas lists the symbols of the rows."""
    depth = nd.read_recording(recording, "depth")
    last = depth.groupby("symbol", observed=True)["received_at"].max()
    ended, going = last.idxmin(), last.idxmax()  # the symbol whose last push came first, the other
    start = last.min() + pd.Timedelta(1, "ns")
    after = nd.read_recording(recording, "depth", start=start)
    assert set(after["symbol"]) == {going} and list(after["symbol"].cat.categories) == [going]
    computed = nd.read_recording(recording, "depth", start=start, engine="dask").compute(scheduler="sync")
    assert set(computed["symbol"]) == {going} and list(computed["symbol"].cat.categories) == sorted([ended, going])
    assert len(computed) == len(after)


def test_start_and_end_cut_to_the_nanosecond(recording: Path, tmp_path: Path) -> None:
    """Pushes of one socket read are stamped a nanosecond apart: ``start`` and ``end`` cut
    between them exactly as the pandas reader does (Dask alone would compare microseconds)."""
    pushes = nd.read_recording(recording, "depth", symbol="BTCUSDT").head(30).copy()  # three pushes of ten rows
    stamp = (pushes["received_at"].iloc[0].value // 1000 + 1) * 1000  # a whole microsecond
    pushes["received_at"] = pd.to_datetime(np.repeat([stamp, stamp + 1, stamp + 2], 10), utc=True).as_unit("ns")
    DatasetWriter(tmp_path, TABLES["depth"]).write(pa.Table.from_pandas(pushes, preserve_index=False))
    middle = pd.Timestamp(stamp + 1, tz="UTC")
    for options, rows in (
        ({"start": middle}, 20),
        ({"end": middle}, 10),
        ({"start": middle, "end": middle + pd.Timedelta(1, "ns")}, 10),
    ):
        expected = nd.read_recording(tmp_path, "depth", **options)
        computed = nd.read_recording(tmp_path, "depth", **options, engine="dask").compute(scheduler="sync")
        assert len(expected) == rows, options
        pd.testing.assert_frame_equal(as_pandas_reads(computed, expected), expected)


def test_no_rows_is_an_empty_frame_of_the_same_dtypes(recording: Path) -> None:
    expected = nd.read_recording(recording, "depth", symbol="LTCUSDT")
    ddf = nd.read_recording(recording, "depth", symbol="LTCUSDT", engine="dask")
    computed = ddf.compute(scheduler="sync")
    assert len(expected) == len(computed) == 0
    assert computed.dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()
    later = nd.read_recording(recording, "depth", start=middle_of(recording) + pd.Timedelta(days=1), engine="dask")
    assert len(later.compute(scheduler="sync")) == 0


def test_filters_prune_partitions_before_any_file_is_opened(copy: Path) -> None:
    """A damaged file in a partition the filters exclude is never opened, not even to learn the
    schema (Dask itself opens the first file it is given, so the partitions are chosen first)."""
    eth = next((copy / "feed=depth" / "symbol=ETHUSDT").glob("date=*"))
    (eth / "part-0-damaged.parquet").write_bytes(b"not parquet")
    old = copy / "feed=depth" / "symbol=BTCUSDT" / "date=2000-01-01"  # sorts first
    old.mkdir()
    (old / "part-0-damaged.parquet").write_bytes(b"not parquet")
    (eth / ".part-1-partial.parquet.tmp").write_bytes(b"a write in progress")  # hidden: never read
    today = eth.name.removeprefix("date=")
    btc = nd.read_recording(copy, "depth", symbol="BTCUSDT", start=today, engine="dask").compute(scheduler="sync")
    assert len(btc) == len(nd.read_recording(copy, "depth", symbol="BTCUSDT", start=today)) > 0
    with pytest.raises(pa.ArrowInvalid, match="damaged"):
        nd.read_recording(copy, "depth", symbol="BTCUSDT", engine="dask").compute(scheduler="sync")  # the old date
    with pytest.raises(pa.ArrowInvalid, match="damaged"):
        nd.read_recording(copy, "depth", start=today, engine="dask").compute(scheduler="sync")  # ETHUSDT


def test_start_skips_row_groups_by_their_statistics(copy: Path) -> None:
    """A file whose data is damaged but whose footer is whole is skipped when its received_at
    statistics lie before ``start``: the row group is pruned, its pages never read."""
    files = sorted((copy / "feed=depth" / "symbol=BTCUSDT").rglob("part-*.parquet"))
    first, second = files[0], files[1]
    footer = pq.read_metadata(first).serialized_size + 8
    data = bytearray(first.read_bytes())
    data[4 : len(data) - footer] = b"\xab" * (len(data) - footer - 4)  # the pages, not the footer
    first.write_bytes(bytes(data))
    start = pd.Timestamp(pq.read_metadata(second).row_group(0).column(0).statistics.min)
    pruned = nd.read_recording(copy, "depth", symbol="BTCUSDT", start=start, engine="dask").compute(scheduler="sync")
    assert len(pruned) == len(nd.read_recording(copy, "depth", symbol="BTCUSDT", start=start)) > 0
    with pytest.raises(OSError, match="thrift"):
        nd.read_recording(copy, "depth", symbol="BTCUSDT", engine="dask").compute(scheduler="sync")


def test_engine_is_checked(recording: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(nd.read_recording(recording, "depth", engine="pandas"), pd.DataFrame)
    with pytest.raises(nd.ArgumentError, match="engine must be one of 'pandas', 'dask', got 'spark'"):
        nd.read_recording(recording, "depth", engine="spark")  # type: ignore[call-overload]
    monkeypatch.setitem(sys.modules, "dask.dataframe", None)  # as if Dask were not installed
    with pytest.raises(nd.ArgumentError, match=r'pip install "nexusdata\[dask\]"') as refused:
        nd.read_recording(recording / "nothing-here", "depth", engine="dask")  # refused before the path is looked at
    assert isinstance(refused.value, ValueError) and isinstance(refused.value.__cause__, ImportError)


def test_import_nexusdata_leaves_dask_unloaded() -> None:
    code = "import sys, nexusdata; print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_documented_recipe(recording: Path, client: Client) -> None:
    """docs/recording.md, "Dask": the mean best bid per symbol, computed on the cluster."""
    depth = nd.read_recording(recording, "depth")
    since = depth["received_at"].iloc[0].strftime("%Y-%m-%d")
    ddf = nd.read_recording(recording, "depth", symbol=["BTCUSDT", "ETHUSDT"], start=since, engine="dask")
    bids = ddf[(ddf.side == "bid") & (ddf.level == 0)]
    best = bids.groupby("symbol", observed=True).price.mean().compute()  # runs on the cluster
    df = ddf.compute()  # the whole selection in this process, as read_recording(...) returns it
    top = depth[(depth["side"] == "bid") & (depth["level"] == 0)].groupby("symbol", observed=True)["price"].mean()
    assert best.sort_index().to_dict() == pytest.approx(top.to_dict()) and len(top) == 2
    assert len(df) == len(depth)


def test_plain_dask_read_parquet_recipe(recording: Path, client: Client) -> None:
    """docs/recording.md, "Dask", without nexusdata: partition keys as known categories (an id
    as integers), other strings as Dask's strings, a partition per file."""
    root = str(recording)
    ddf = dd.read_parquet(f"{root}/feed=depth", filters=[("symbol", "in", ["BTCUSDT", "ETHUSDT"])])
    mean = ddf.groupby("symbol", observed=True).price.mean().compute()
    depth = nd.read_recording(recording, "depth")
    expected = depth.groupby("symbol", observed=True).price.mean()
    assert mean.sort_index().to_dict() == pytest.approx(expected.to_dict())
    assert ddf["symbol"].cat.known and ddf["date"].cat.known and str(ddf["side"].dtype) == "string"
    assert ddf.npartitions == len(list((recording / "feed=depth").rglob("*.parquet")))
    v3 = dd.read_parquet(f"{root}/feed=pair_index_v3")
    assert v3["id"].cat.known and sorted(v3["id"].cat.categories) == [0, 1]
