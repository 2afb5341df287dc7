"""Reading recordings back: the collectors' schema exactly, filters pushed down to the files,
and the dataset as it is read by pyarrow, pandas and DuckDB SQL."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import nexusdata as nd
from nexusdata.frames import build_dataframe
from nexusdata.protocol import TABLES
from nexusdata.recording.layout import file_schema
from nexusdata.recording.reader import summary
from nexusdata.sim import Simulator

FEEDS = ("depth", "pair_index_v3", "orders")


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Depth of two symbols, pair_index_v3 of two coins and orders, recorded side by side with
    a file every 0.2 s."""
    root = tmp_path_factory.mktemp("recording")
    with Simulator(seed=4, rate=100.0) as sim, ThreadPoolExecutor(3) as pool:
        runs = [
            pool.submit(nd.record, root, "depth", "BTCUSDT", "ETHUSDT", seconds=1, flush_seconds=0.2, **sim.nexus),
            pool.submit(nd.record, root, "pair_index_v3", "1", "0", seconds=1, flush_seconds=0.2, **sim.chainext),
            pool.submit(nd.record, root, "orders", seconds=1, flush_seconds=0.2, **sim.nexus),
        ]
        assert all(run.result().rows > 0 for run in runs)
    return root


@pytest.fixture
def copy(recording: Path, tmp_path: Path) -> Path:
    """A copy of the recording a test may damage."""
    return Path(shutil.copytree(recording, tmp_path / "copy"))


@pytest.mark.parametrize("feed", FEEDS)
def test_schema_is_the_collectors(recording: Path, feed: str) -> None:
    """Same columns, same dtypes as a collector (partition columns neither added nor retyped)."""
    df = nd.read_recording(recording, feed)
    empty = build_dataframe(TABLES[feed], [])
    assert list(df.columns) == list(empty.columns)
    assert df.dtypes.astype(str).tolist() == empty.dtypes.astype(str).tolist()
    assert len(df) > 0 and df["received_at"].is_monotonic_increasing
    for name in df.select_dtypes("category"):
        assert all(isinstance(v, str) for v in df[name].dropna().unique()), name
    if feed == "depth":
        assert set(df["symbol"]) == {"BTCUSDT", "ETHUSDT"}
        assert (df.groupby("received_at", observed=True).size() == 10).all()  # every push whole
    if feed == "orders":
        assert df["order_id"].str.fullmatch(r"\d{19}").all()  # exact digits, never a float


@pytest.mark.parametrize("feed", FEEDS)
def test_files_hold_plain_parquet_types(recording: Path, feed: str) -> None:
    """Every file stores the documented plain types (categories as strings), whatever the
    recorder held in memory, so every engine reads the files alike."""
    files = list((recording / f"feed={feed}").rglob("*.parquet"))
    assert files and all(pq.read_schema(f).equals(file_schema(TABLES[feed])) for f in files)


def test_symbol_and_id_select_partitions(recording: Path) -> None:
    depth = nd.read_recording(recording, "depth")
    eth = nd.read_recording(recording, "depth", symbol="ETHUSDT")
    expected = depth[depth["symbol"] == "ETHUSDT"].reset_index(drop=True)
    pd.testing.assert_frame_equal(eth, expected, check_categorical=False)
    assert len(nd.read_recording(recording, "depth", symbol=["ETHUSDT", "BTCUSDT"])) == len(depth)
    v3 = nd.read_recording(recording, "pair_index_v3")
    one = nd.read_recording(recording, "pair_index_v3", id=1)
    assert 0 < len(one) < len(v3) and set(one["underlying_cid"]) == {"1"}
    assert len(nd.read_recording(recording, "depth", symbol="LTCUSDT")) == 0


def test_start_and_end_bound_received_at(recording: Path) -> None:
    depth = nd.read_recording(recording, "depth")
    middle = depth["received_at"].iloc[len(depth) // 2]
    after = nd.read_recording(recording, "depth", start=middle)
    before = nd.read_recording(recording, "depth", end=middle)
    assert len(after) + len(before) == len(depth)
    assert after["received_at"].min() == middle and before["received_at"].max() < middle
    naive = middle.tz_convert(None).isoformat()  # a naive time is UTC
    assert len(nd.read_recording(recording, "depth", start=naive)) == len(after)
    later = depth["received_at"].max() + pd.Timedelta(days=1)
    empty = nd.read_recording(recording, "depth", start=later)
    assert len(empty) == 0 and empty.dtypes.astype(str).tolist() == depth.dtypes.astype(str).tolist()


def test_filters_are_pushed_down(copy: Path) -> None:
    """A damaged file in a partition the filters exclude is never opened: the symbol and the
    dates prune directories before any file is read."""
    eth = next((copy / "feed=depth" / "symbol=ETHUSDT").glob("date=*"))
    (eth / "part-0-damaged.parquet").write_bytes(b"not parquet")
    old = copy / "feed=depth" / "symbol=BTCUSDT" / "date=2000-01-01"
    old.mkdir()
    (old / "part-0-damaged.parquet").write_bytes(b"not parquet")
    today = eth.name.removeprefix("date=")
    assert len(nd.read_recording(copy, "depth", symbol="BTCUSDT", start=today)) > 0
    with pytest.raises(pa.ArrowInvalid, match="damaged"):
        nd.read_recording(copy, "depth", symbol="BTCUSDT")  # the old date is read: the damage shows
    with pytest.raises(pa.ArrowInvalid, match="damaged"):
        nd.read_recording(copy, "depth", start=today)  # ETHUSDT is read: the damage shows


def test_feed_may_be_left_out_when_there_is_one(copy: Path) -> None:
    for feed in ("pair_index_v3", "orders"):
        shutil.rmtree(copy / f"feed={feed}")
    assert len(nd.read_recording(copy)) == len(nd.read_recording(copy, "depth"))


def test_summary_counts_rows_pushes_and_files(recording: Path) -> None:
    table = summary(recording)
    assert set(table["feed"]) == set(FEEDS)
    depth = nd.read_recording(recording, "depth")
    btc = table[(table["feed"] == "depth") & (table["key"] == "BTCUSDT")].iloc[0]
    assert btc["rows"] == (depth["symbol"] == "BTCUSDT").sum() and btc["pushes"] * 10 == btc["rows"]
    assert btc["files"] == len(list((recording / "feed=depth" / "symbol=BTCUSDT").rglob("*.parquet")))
    assert btc["connections"] == 1 and btc["first"] <= btc["last"]
    assert sorted(table.loc[table["feed"] == "pair_index_v3", "key"]) == ["0", "1"]


def test_pyarrow_and_pandas_read_the_dataset_as_it_is(recording: Path) -> None:
    """No nexusdata needed to read it: a Hive-partitioned Parquet dataset per feed."""
    depth = nd.read_recording(recording, "depth")
    dataset = ds.dataset(recording / "feed=depth", format="parquet", partitioning="hive")
    assert {"symbol", "date", "price", "received_at"} <= set(dataset.schema.names)
    table = dataset.to_table(filter=ds.field("symbol") == "ETHUSDT")
    assert table.num_rows == (depth["symbol"] == "ETHUSDT").sum()
    plain = pd.read_parquet(recording / "feed=depth").sort_values("received_at", kind="stable", ignore_index=True)
    assert len(plain) == len(depth)
    assert plain["price"].sum() == pytest.approx(depth["price"].sum())
    assert (plain["received_at"].to_numpy() == depth["received_at"].to_numpy()).all()


def test_duckdb_queries_the_dataset_with_sql(recording: Path) -> None:
    depth = nd.read_recording(recording, "depth")
    files = (recording / "feed=depth" / "*" / "*" / "*.parquet").as_posix()
    best = duckdb.sql(
        f"""
        SELECT symbol, count(*) AS rows, count(DISTINCT received_at) AS pushes, max(price) AS top
        FROM read_parquet('{files}', hive_partitioning = true)
        WHERE side = 'bid' AND level = 0
        GROUP BY symbol ORDER BY symbol
        """
    ).df()
    bids = depth[(depth["side"] == "bid") & (depth["level"] == 0)]
    expected = bids.groupby("symbol", observed=True).agg(
        rows=("price", "size"), pushes=("received_at", "nunique"), top=("price", "max")
    )
    assert best["symbol"].tolist() == expected.index.tolist()
    assert best["rows"].tolist() == expected["rows"].tolist() == expected["pushes"].tolist()
    assert best["top"].tolist() == expected["top"].tolist()
    middle = depth["received_at"].iloc[len(depth) // 2]
    since = middle.floor("us")  # DuckDB's time functions work in microseconds: cast received_at (ns)
    [(count,)] = duckdb.execute(
        f"SELECT count(*) FROM read_parquet('{files}', hive_partitioning = true) WHERE received_at::TIMESTAMPTZ >= ?",
        [since.to_pydatetime()],
    ).fetchall()
    assert count == (depth["received_at"] >= since).sum()
    v3 = (recording / "feed=pair_index_v3" / "*" / "*" / "*.parquet").as_posix()
    [(pairs,)] = duckdb.sql(f"SELECT count(*) FROM read_parquet('{v3}', hive_partitioning = true) WHERE id = 1").fetchall()
    assert pairs == len(nd.read_recording(recording, "pair_index_v3", id="1"))
