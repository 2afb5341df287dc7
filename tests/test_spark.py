"""The Spark recipe of docs/recording.md, as written, against a recording: Spark reads the files,
the partition keys and dates as strings, ``received_at`` exactly (as nanoseconds in a long),
prunes directories, and skips the recorder's hidden temporary files.

Runs only where ``pyspark`` and a Java runtime are installed (neither is in the ``test`` extra:
a JVM is no pip package); skipped otherwise, the reason printed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd
import pytest

import nexusdata as nd
from nexusdata.protocol import TABLES
from nexusdata.recording.layout import file_schema
from nexusdata.sim import Simulator


def _skip(reason: str, config: pytest.Config) -> NoReturn:
    """Skip the module's Spark tests, printing why even without ``-rs``."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\ntests/test_spark.py: Spark recipe skipped: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def spark(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A local Spark session on 127.0.0.1 with the recipe's settings, or a skip saying what is
    missing."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        _skip(f"pyspark is not installed ({exc}); pip install pyspark to run the Spark recipe", request.config)
    if shutil.which("java") is None:
        _skip("no Java runtime (java not on PATH); Spark needs one", request.config)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        session = (
            SparkSession.builder.master("local[1]")
            .appName("nexusdata-tests")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            # the recipe (docs/recording.md, "Spark")
            .config("spark.sql.legacy.parquet.nanosAsLong", "true")
            .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        try:
            yield session
        finally:
            session.stop()


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> Path:
    """Depth of two symbols and pair_index_v3 of two coins, a file every 0.2 s."""
    root = tmp_path_factory.mktemp("recording")
    with Simulator(seed=6, rate=100.0) as sim, ThreadPoolExecutor(2) as pool:
        runs = [
            pool.submit(
                nd.record, root, "depth", "BTCUSDT", "ETHUSDT", seconds=1, flush_seconds=0.2, progress=False, **sim.nexus
            ),
            pool.submit(nd.record, root, "pair_index_v3", "1", "0", seconds=1, flush_seconds=0.2, progress=False, **sim.chainext),
        ]
        assert all(run.result().rows > 0 for run in runs)
    return root


@pytest.fixture
def copy(recording: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(recording, tmp_path / "copy"))


DEPTH = (
    "received_at BIGINT, connection INT, side STRING, level TINYINT, price DOUBLE, volume DOUBLE,"
    " cp STRING, time TIMESTAMP, symbol STRING, date STRING"
)
"""The recipe's schema of the depth feed: the files' columns, then the path's."""

SPARK_TYPES = {"int8": "TINYINT", "int16": "SMALLINT", "int32": "INT", "double": "DOUBLE", "string": "STRING"}


def recipe(spark: Any, root: Path, *symbols: str, since: str) -> Any:
    """docs/recording.md, "Spark", with the recording's root, symbols and first date."""
    from pyspark.sql import functions as F

    rec = root.as_posix()
    return (
        spark.read.schema(DEPTH)
        .option("basePath", f"{rec}/feed=depth")
        .option("mergeSchema", "false")
        .parquet(*(f"{rec}/feed=depth/symbol={s}" for s in symbols))
        .where(f"date >= '{since}'")
        .withColumn("received_at_ns", F.col("received_at"))
        .withColumn("received_at", F.expr("timestamp_micros(received_at div 1000)"))
    )


def test_recipe_is_the_documented_one_and_its_schema_the_files() -> None:
    """The schema string is the depth files' own (nanosecond times as BIGINT, millisecond times
    as TIMESTAMP) with the path's columns, and docs/recording.md shows this recipe."""
    fields = []
    for field in file_schema(TABLES["depth"]):
        if field.name == "received_at":
            fields.append("received_at BIGINT")
        elif str(field.type).startswith("timestamp[ms"):
            fields.append(f"{field.name} TIMESTAMP")
        else:
            fields.append(f"{field.name} {SPARK_TYPES[str(field.type)]}")
    assert ", ".join([*fields, "symbol STRING", "date STRING"]) == DEPTH
    docs = (Path(__file__).resolve().parents[1] / "docs" / "recording.md").read_text(encoding="utf-8")
    section = docs[docs.index("### Spark") :]
    shown = " ".join(section[: section.index("```\n", section.index("```python") + 3)].split())
    for line in (
        f'DEPTH = "{DEPTH}"',
        '.config("spark.sql.legacy.parquet.nanosAsLong", "true")',
        '.config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")',
        '.config("spark.sql.session.timeZone", "UTC")',
        "spark.read.schema(DEPTH)",
        '.option("basePath", "rec/feed=depth")',
        '.option("mergeSchema", "false")',
        '.parquet("rec/feed=depth/symbol=BTCUSDT", "rec/feed=depth/symbol=ETHUSDT")',
        ".where(\"date >= '2026-11-22'\")",
        '.withColumn("received_at_ns", F.col("received_at"))',
        '.withColumn("received_at", F.expr("timestamp_micros(received_at div 1000)"))',
    ):
        assert line in shown, line


def test_recipe_reads_what_the_pandas_reader_reads(spark: Any, recording: Path) -> None:
    depth = nd.read_recording(recording, "depth")
    today = depth["received_at"].iloc[0].strftime("%Y-%m-%d")
    df = recipe(spark, recording, "BTCUSDT", "ETHUSDT", since=today)
    types = dict(df.dtypes)
    assert types["received_at_ns"] == "bigint" and types["received_at"] == "timestamp" and types["time"] == "timestamp"
    assert types["symbol"] == types["date"] == types["side"] == "string" and types["level"] == "tinyint"
    rows = df.orderBy("received_at_ns", "symbol", "side", "level").collect()
    assert len(rows) == len(depth)
    got = [(r.received_at_ns, r.symbol, r.side, r.level, r.price, r.volume, r.cp, pd.Timestamp(r.time)) for r in rows]
    want = depth.astype({"symbol": str, "side": str, "cp": str}).sort_values(["received_at", "symbol", "side", "level"])
    expected = list(
        zip(
            want["received_at"].astype("int64"),
            want["symbol"],
            want["side"],
            want["level"].astype(int),
            want["price"],
            want["volume"],
            want["cp"],
            want["time"].dt.tz_convert(None),
        )
    )
    assert got == expected  # exact: nanoseconds, prices, the ms times (UTC session time zone)
    assert [pd.Timestamp(r.received_at) for r in rows[:50]] == [
        pd.Timestamp(r.received_at_ns).floor("us") for r in rows[:50]
    ]  # the timestamp is cut to microseconds
    middle = rows[len(rows) // 2].received_at_ns
    later = df.where(df.received_at_ns >= middle)
    plan = later._jdf.queryExecution().executedPlan().toString()
    assert f"GreaterThanOrEqual(received_at,{middle})" in plan  # pushed to the Parquet reader: row groups skipped
    assert later.count() == (depth["received_at"].astype("int64") >= middle).sum()


def test_ids_stay_strings(spark: Any, recording: Path) -> None:
    """With type inference of partition columns off, the ChaiNext ids and the dates are strings,
    compared as the directories spell them."""
    v3 = spark.read.option("mergeSchema", "false").parquet((recording / "feed=pair_index_v3").as_posix())
    assert dict(v3.dtypes)["id"] == "string" and dict(v3.dtypes)["date"] == "string"
    assert v3.where("id = '1'").count() == len(nd.read_recording(recording, "pair_index_v3", id="1")) > 0


def test_recipe_prunes_directories_and_skips_temporary_files(spark: Any, copy: Path) -> None:
    """Only the directories named (and the dates the filter keeps) are read: a damaged file in
    another symbol or an older date is never opened, and a hidden temporary file is ignored."""
    eth = next((copy / "feed=depth" / "symbol=ETHUSDT").glob("date=*"))
    (eth / "part-0-damaged.parquet").write_bytes(b"not parquet")
    old = copy / "feed=depth" / "symbol=BTCUSDT" / "date=2000-01-01"
    old.mkdir()
    (old / "part-9-damaged.parquet").write_bytes(b"not parquet")
    btc = next((copy / "feed=depth" / "symbol=BTCUSDT").glob("date=2*"))
    (btc / ".part-1-partial.parquet.tmp").write_bytes(b"a write in progress")
    today = eth.name.removeprefix("date=")
    expected = len(nd.read_recording(copy, "depth", symbol="BTCUSDT", start=today))
    assert recipe(spark, copy, "BTCUSDT", since=today).count() == expected > 0
    whole = spark.read.schema(DEPTH).parquet((copy / "feed=depth").as_posix())  # the feed's directory, filtered
    assert whole.where(f"symbol = 'BTCUSDT' AND date >= '{today}'").count() == expected
    from py4j.protocol import Py4JJavaError

    with pytest.raises(Py4JJavaError, match="symbol=ETHUSDT/.*damaged"):
        recipe(spark, copy, "BTCUSDT", "ETHUSDT", since=today).count()
    with pytest.raises(Py4JJavaError, match="date=2000-01-01/.*damaged"):
        recipe(spark, copy, "BTCUSDT", since="2000-01-01").count()
