"""Compaction of a recording: every row kept (DuckDB reads the same table before and after), the
recorder's file format, closed partitions only, idempotent; readers during a compaction see the
old files or the new ones, never both and never neither; a recorder writing today's partition
meanwhile is undisturbed; a kill at every step is finished or undone by the next run."""

from __future__ import annotations

import importlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from waiting import WAIT, wait_until

import nexusdata as nd
from nexusdata.cli import EXIT_ERROR, EXIT_OK, EXIT_USAGE, main
from nexusdata.frames import build_dataframe
from nexusdata.protocol import tables
from nexusdata.recording.layout import file_schema
from nexusdata.recording.writer import DatasetWriter
from nexusdata.sim import Simulator

compaction = importlib.import_module("nexusdata.recording.compaction")

pytestmark = pytest.mark.timeout(60)

TARGET = 20_000
"""Bytes: small enough that a test partition of a few hundred KiB makes several merged files."""
DAY = timedelta(days=1)
PART = re.compile(r"part-(\d{20})-([0-9a-f]{8})-(\d{6})\.parquet")


def today() -> date:
    return datetime.now(timezone.utc).date()


def synthetic(
    root: Path, days: list[date], symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT"), files: int = 20, shift: int = 0
) -> int:
    """Write ``files`` flushes of depth per day, each one small file per symbol, as a recorder
    would (pushes of 10 rows, a second apart, ``shift`` ns later); the rows written."""
    writer = DatasetWriter(root, tables.DEPTH)
    types = file_schema(tables.DEPTH)
    rng = np.random.default_rng(len(days) * 100 + files + shift)
    pushes = 20  # per symbol and file
    for day in days:
        start = pd.Timestamp(day, tz="UTC").value
        for f in range(files):
            seconds = np.repeat(np.arange(pushes * len(symbols)), 10)
            received = start + (f * 1000 + seconds) * 1_000_000_000 + shift
            rows = len(received)
            values = {
                "received_at": received,
                "connection": np.ones(rows),
                "side": np.tile(["bid"] * 5 + ["ask"] * 5, rows // 10),
                "level": np.tile(list(range(5)) * 2, rows // 10),
                "price": rng.random(rows).round(4),
                "volume": rng.random(rows).round(4),
                "cp": rng.choice(["b2c2", "cumberland"], rows),
                "time": received // 1_000_000,
            }
            data = pa.table({name: pa.array(values[name]).cast(types.field(name).type) for name in types.names})
            writer.write(data.append_column("symbol", pa.array(np.array(symbols)[seconds % len(symbols)])))
    return writer.rows


def query(root: Path, sql: str, feed: str = "depth") -> list[tuple[Any, ...]]:
    """``sql`` with ``t`` the feed as DuckDB reads it with the documented glob."""
    table = f"read_parquet('{root}/feed={feed}/*/*/*.parquet', hive_partitioning = true, hive_types_autocast = false)"
    with duckdb.connect() as con:
        return con.execute(sql.replace("FROM t", f"FROM {table}")).fetchall()


CHECKSUM = "SELECT count(*), sum(hash(received_at, connection, symbol, date, side, level, price, volume, cp, time)) FROM t"


def content(root: Path, feed: str = "depth") -> pa.Table:
    """Every row of ``feed`` with its partition keys, in a canonical order, as DuckDB reads it."""
    table = f"read_parquet('{root}/feed={feed}/*/*/*.parquet', hive_partitioning = true, hive_types_autocast = false)"
    with duckdb.connect() as con:
        return con.sql(f"SELECT * FROM {table} ORDER BY ALL").to_arrow_table()


def tree(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every file under ``root``: (inode, size, modification time in ns)."""
    return {
        p.relative_to(root).as_posix(): (s.st_ino, s.st_size, s.st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and (s := p.stat())
    }


def partitions(root: Path, feed: str = "depth") -> dict[str, list[str]]:
    """Each partition directory (relative) and its visible files, sorted."""
    return {
        d.relative_to(root).as_posix(): sorted(p.name for p in d.iterdir() if not p.name.startswith("."))
        for d in sorted((root / f"feed={feed}").glob("*=*/date=*"))
    }


def age(root: Path, seconds: float) -> None:
    """Make every file and directory under ``root`` look written ``seconds`` ago."""
    for p in [root, *root.rglob("*")]:
        stat = p.stat()
        os.utime(p, (stat.st_atime - seconds, stat.st_mtime - seconds))


def test_merges_the_small_files_of_closed_partitions_keeping_every_row(tmp_path: Path) -> None:
    """Two past days of two symbols, 20 small files each (and 20 more of a second recorder of
    BTCUSDT on one day, interleaved in time), and today's partition: the past ones become a few
    files of about the target size, in the recorder's format and naming, each sorted by
    received_at; DuckDB and read_recording read exactly the same rows; today's files and every
    file not merged stay as they were (no file is ever changed in place); a second run changes
    nothing."""
    days = [today() - 3 * DAY, today() - 2 * DAY]
    past = synthetic(tmp_path, days) + synthetic(tmp_path, days[:1], symbols=("BTCUSDT",), shift=500_000_000)
    synthetic(tmp_path, [today()], files=5)
    before, frame, files = content(tmp_path), nd.read_recording(tmp_path), tree(tmp_path)
    summary = nd.compact(tmp_path, idle=0, target_size=TARGET)

    assert (summary.closed, summary.partitions, summary.files_before, summary.rows) == (4, 4, 100, past)
    assert summary.files_after < 40 and summary.bytes_after < summary.bytes_before and summary.atomic
    assert not summary.skipped and not summary.resumed
    assert "compacted 4 of 4 closed partition(s)" in str(summary)
    assert content(tmp_path).equals(before)
    assert nd.read_recording(tmp_path).equals(frame)
    after = tree(tmp_path)
    for name, stat in files.items():  # a file is kept as it was, or gone
        assert after.get(name, stat) == stat, name
    new = sorted(set(after) - set(files) - {".compact/lock"})
    assert sorted(set(files) - set(after)) == sorted(n for n in files if "date=" + str(today()) not in n)
    assert len(new) == summary.files_after and len({PART.search(n)[2] for n in new}) == 1  # type: ignore[index]
    for directory, names in partitions(tmp_path).items():
        if directory.endswith(str(today())):
            assert len(names) == 5
            continue
        sizes = [(tmp_path / directory / n).stat().st_size for n in names]
        assert 2 <= len(names) < 10 and min(sizes[:-1]) >= TARGET, sizes  # all but the last at least the target
        for name in names:
            path = tmp_path / directory / name
            metadata = pq.read_metadata(path)
            data = pq.read_table(path, partitioning=None)
            assert data.schema.equals(file_schema(tables.DEPTH)) and metadata.metadata is None  # no Arrow schema stored
            assert {metadata.row_group(0).column(i).compression for i in range(metadata.num_columns)} == {"ZSTD"}
            times = data.column("received_at").cast(pa.int64()).to_numpy()
            assert (np.diff(times) >= 0).all() and int(PART.fullmatch(name)[1]) == times[0]  # type: ignore[index]
    assert sorted(p.name for p in (tmp_path / ".compact").iterdir()) == ["lock"]

    again = nd.compact(tmp_path, idle=0, target_size=TARGET)
    assert (again.partitions, again.files_before, again.closed) == (0, 0, 4)
    assert tree(tmp_path) == after


def test_every_feed_and_today_when_asked(sim: Simulator, tmp_path: Path) -> None:
    """Recordings of a Nexus table, a ChaiNext topic (an id= partition whose id column stays in
    the files) and an order view, made by the recorder: today's partitions are compacted only
    with a later before= day, then read back exactly as before, by DuckDB and read_recording."""
    nd.record(tmp_path, "depth", "BTCUSDT", "ETHUSDT", seconds=0.6, flush_seconds=0.1, progress=False, **sim.nexus)
    nd.record(tmp_path, "pair_index_v3", "1", "0", seconds=0.6, flush_seconds=0.1, progress=False, **sim.chainext)
    nd.record(tmp_path, "orders", rows="executions", seconds=0.6, flush_seconds=0.1, progress=False, **sim.nexus)
    feeds = ("depth", "pair_index_v3", "executions")
    before = {
        feed: (
            content(tmp_path, feed),
            nd.read_recording(
                tmp_path, feed if feed != "executions" else "orders", rows="executions" if feed == "executions" else None
            ),
        )
        for feed in feeds
    }
    assert nd.compact(tmp_path, idle=0, target_size=TARGET).closed == 0  # today is not closed by default
    summary = nd.compact(tmp_path, before=today() + DAY, idle=0, target_size=TARGET)
    assert summary.partitions >= 5 and summary.files_before > 2 * summary.files_after
    for feed in feeds:
        table, frame = before[feed]
        assert content(tmp_path, feed).equals(table), feed
        back = nd.read_recording(
            tmp_path, feed if feed != "executions" else "orders", rows="executions" if feed == "executions" else None
        )
        assert back.equals(frame), feed
    assert all(len(names) <= 3 for names in partitions(tmp_path, "pair_index_v3").values())


def test_closed_means_an_earlier_day_and_nothing_written_for_idle_seconds(tmp_path: Path) -> None:
    """By default only days before today (UTC) are looked at, and a partition written in the last
    10 minutes is skipped and reported; an explicit later before= day takes today too, under the
    same rule."""
    synthetic(tmp_path, [today() - DAY, today()], files=5)
    first = nd.compact(tmp_path, target_size=TARGET)
    assert (first.closed, first.partitions, len(first.skipped)) == (2, 0, 2)
    assert all(re.search(rf"date={today() - DAY}: written \d+s ago, less than idle=600s", s) for s in first.skipped)
    age(tmp_path, 3600)
    second = nd.compact(tmp_path, target_size=TARGET)
    assert (second.closed, second.partitions, second.skipped) == (2, 2, ())
    assert all(len(n) == 5 for d, n in partitions(tmp_path).items() if d.endswith(str(today())))
    later = nd.compact(tmp_path, before=today() + DAY, target_size=TARGET)
    assert (later.closed, later.partitions, later.skipped) == (4, 2, ())  # today's files are old too (aged)
    assert all(len(n) < 5 for n in partitions(tmp_path).values())
    for day in (str(today() + DAY), pd.Timestamp(today() + DAY), datetime(*(today() + DAY).timetuple()[:3], tzinfo=timezone.utc)):
        assert nd.compact(tmp_path, before=day).closed == 4


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"kind": "risk"}, "kind must be one of the recorded kinds (depth), got 'risk'"),
        ({"before": "yesterday"}, "before must be a day, YYYY-MM-DD"),
        ({"before": "2026-11-22 10:00"}, "before must be a day"),
        ({"before": pd.Timestamp("2026-11-22 10:00", tz="UTC")}, "before must be a day"),
        ({"target_size": 0}, "target_size must be a whole number of bytes >= 1, got 0"),
        ({"target_size": 1.5}, "target_size must be a whole number of bytes"),
        ({"target_size": True}, "target_size must be"),
        ({"idle": -1}, "idle must be a number of seconds >= 0, got -1"),
        ({"idle": float("inf")}, "idle must be"),
        ({"idle": "1"}, "idle must be"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_touched(tmp_path: Path, arguments: dict[str, Any], words: str) -> None:
    synthetic(tmp_path, [today() - DAY], files=2)
    files = tree(tmp_path)
    with pytest.raises(nd.ArgumentError, match=re.escape(words)):
        nd.compact(tmp_path, **arguments)
    assert tree(tmp_path) == files


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``nexusdata compact``: help with examples, the summary, bad arguments (status 2), a second
    compaction while one runs (status 1)."""
    with pytest.raises(SystemExit) as done:
        main(["compact", "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and "nexusdata compact rec" in out.split("examples:")[1] and "2 bad arguments" in out
    assert main(["compact", str(tmp_path / "nothing")]) == EXIT_USAGE
    assert "path must be a recording directory" in capsys.readouterr().err
    synthetic(tmp_path, [today() - DAY], files=10)
    for flags, words in ((["--before", "monday"], "before must be a day"), (["--target-size", "0"], "--target-size must be")):
        assert main(["compact", str(tmp_path), *flags]) == EXIT_USAGE
        assert words in capsys.readouterr().err
    held = compaction._lock(tmp_path)
    with held:
        assert main(["compact", str(tmp_path), "--idle", "0"]) == EXIT_ERROR
        assert "another compaction of" in capsys.readouterr().err
    assert main(["compact", str(tmp_path), "--idle", "0", "--target-size", str(TARGET / 2**20), "--kind", "depth"]) == EXIT_OK
    assert "compacted 2 of 2 closed partition(s)" in capsys.readouterr().out


# -- readers meanwhile ----------------------------------------------------------------------------


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[str], None]], None]]:
    """Run a function at every named step of a compaction (after the step's own hook)."""
    hooks: list[Callable[[str], None]] = []
    original = compaction._step

    def step(point: str) -> None:
        original(point)
        for hook in hooks:
            hook(point)

    monkeypatch.setattr(compaction, "_step", step)
    yield hooks.append


def test_a_reader_at_every_step_sees_every_row_once(tmp_path: Path, steps: Callable[[Callable[[str], None]], None]) -> None:
    """At each step of each partition's compaction, DuckDB and read_recording count and checksum
    the same rows as before: the only change readers can see is the swap, one system call."""
    synthetic(tmp_path, [today() - 2 * DAY, today() - DAY], files=10)
    expected = query(tmp_path, CHECKSUM)
    rows = expected[0][0]
    seen: list[str] = []

    def check(point: str) -> None:
        assert query(tmp_path, CHECKSUM) == expected, point
        assert len(nd.read_recording(tmp_path)) == rows, point
        seen.append(point)

    steps(check)
    summary = nd.compact(tmp_path, idle=0, target_size=TARGET)
    assert summary.partitions == 4 and summary.atomic
    assert seen == ["written", "planned", "checked", "swapped", "cleaned"] * 4


def test_without_an_atomic_exchange_the_partition_is_away_between_two_renames(
    tmp_path: Path, steps: Callable[[Callable[[str], None]], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the file system has no directory exchange (NFS, SMB), the swap is two renames: for
    that moment a reader misses the partition (as documented), and at every other step it sees
    every row; the summary says so."""
    synthetic(tmp_path, [today() - DAY], files=10)
    expected = query(tmp_path, CHECKSUM)
    counts: dict[str, int] = {}
    monkeypatch.setattr(compaction, "_exchange", lambda a, b: False)
    steps(lambda point: counts.setdefault(point, query(tmp_path, CHECKSUM)[0][0]))
    summary = nd.compact(tmp_path, idle=0, target_size=TARGET, kind="depth")
    assert summary.partitions == 2 and not summary.atomic and "no atomic directory exchange" in str(summary)
    partition = len(nd.read_recording(tmp_path, symbol="BTCUSDT"))
    assert counts == {"written": expected[0][0], "planned": expected[0][0], "checked": expected[0][0],
                      "moved-aside": expected[0][0] - partition, "swapped": expected[0][0], "cleaned": expected[0][0]}  # fmt: skip
    assert query(tmp_path, CHECKSUM) == expected


def test_concurrent_readers_get_all_rows_or_a_missing_file_never_a_mixture(
    tmp_path: Path, steps: Callable[[Callable[[str], None]], None]
) -> None:
    """DuckDB and read_recording query in loops in other threads while six partitions are
    compacted (after each swap the compaction waits for a query begun after it, so they interleave). Every query
    that completes counts every row once with the same checksum. A query that listed a partition
    before its swap and opens one of its files after it fails with "no such file" (a listing and
    the opens cannot be one atomic step); its rerun is exact."""
    synthetic(tmp_path, [today() - 2 * DAY, today() - DAY], symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"), files=8)
    expected = query(tmp_path, CHECKSUM)
    stop = threading.Event()
    results: dict[str, list[Any]] = {"duckdb": [], "pyarrow": []}
    progress = threading.Condition()

    def loop(name: str, read: Callable[[], Any]) -> None:
        for _ in range(100_000):
            if stop.is_set():
                return
            try:
                outcome: Any = read()
            except (duckdb.IOException, FileNotFoundError) as exc:
                outcome = exc
            with progress:
                results[name].append(outcome)
                progress.notify_all()

    readers = [
        threading.Thread(target=loop, args=("duckdb", lambda: query(tmp_path, CHECKSUM))),
        threading.Thread(target=loop, args=("pyarrow", lambda: len(nd.read_recording(tmp_path)))),
    ]

    def interleave(point: str) -> None:
        if point == "swapped":  # wait for each reader to finish a query begun after the swap
            with progress:
                marks = {name: len(r) + 1 for name, r in results.items()}
                assert progress.wait_for(lambda: all(len(results[n]) > marks[n] for n in marks), timeout=WAIT)

    steps(interleave)
    for reader in readers:
        reader.start()
    try:
        summary = nd.compact(tmp_path, idle=0, target_size=TARGET)
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=WAIT)
    assert summary.partitions == 6
    for name, answer in (("duckdb", expected), ("pyarrow", expected[0][0])):
        done = [r for r in results[name] if not isinstance(r, Exception)]
        failed = [r for r in results[name] if isinstance(r, Exception)]
        assert len(done) >= 6 and all(r == answer for r in done), (name, done)
        assert all(re.search(r"No such file|Cannot open file|Failed to open", str(e)) for e in failed), failed
    assert query(tmp_path, CHECKSUM) == expected


def test_files_that_arrive_during_a_compaction_are_kept(tmp_path: Path, steps: Callable[[Callable[[str], None]], None]) -> None:
    """A late writer (a partition wrongly taken for closed): a file arriving before the last check
    makes the compaction leave that partition as it is and report it; one arriving between the
    check and the swap lands in the old directory and is moved into the new one. No row is lost,
    and the next run compacts what was left."""
    synthetic(tmp_path, [today() - DAY], files=10)
    late = DatasetWriter(tmp_path, tables.DEPTH)
    dtypes = build_dataframe(tables.DEPTH, []).dtypes.astype(str).to_dict()

    def arrive(symbol: str) -> None:
        moment = pd.Timestamp(today() - DAY, tz="UTC") + pd.Timedelta(hours=23)
        frame = pd.DataFrame({"received_at": [moment], "connection": [2], "symbol": [symbol], "side": ["bid"], "level": [0],
                              "price": [1.0], "volume": [2.0], "cp": ["b2c2"], "time": [moment]}).astype(dtypes)  # fmt: skip
        late.write(pa.Table.from_pandas(frame, preserve_index=False))

    arrivals = {("planned", "BTCUSDT"), ("checked", "ETHUSDT")}
    current: list[str] = []

    def hook(point: str) -> None:
        if point == "written":
            current.append("BTCUSDT" if not current else "ETHUSDT")
        if (point, current[-1]) in arrivals:
            arrivals.discard((point, current[-1]))
            arrive(current[-1])

    steps(hook)
    rows = len(nd.read_recording(tmp_path))
    summary = nd.compact(tmp_path, idle=0, target_size=TARGET)
    assert summary.partitions == 1 and len(summary.skipped) == 1 and "symbol=BTCUSDT" in summary.skipped[0]
    assert "written during the compaction" in summary.skipped[0]
    assert query(tmp_path, "SELECT count(*) FROM t WHERE connection = 2") == [(2,)]
    assert len(nd.read_recording(tmp_path)) == rows + 2
    assert not list((tmp_path / ".compact").glob("feed=*"))
    ethusdt = partitions(tmp_path)[f"feed=depth/symbol=ETHUSDT/date={today() - DAY}"]
    assert late.run in "".join(ethusdt)  # the late file, moved into the compacted partition
    again = nd.compact(tmp_path, idle=0, target_size=TARGET)
    assert again.partitions == 1 and len(nd.read_recording(tmp_path)) == rows + 2
    assert len(partitions(tmp_path)[f"feed=depth/symbol=BTCUSDT/date={today() - DAY}"]) < 5


# -- a recorder meanwhile, and kills -------------------------------------------------------------


def test_a_recorder_writes_todays_partition_while_past_days_are_compacted(sim: Simulator, tmp_path: Path) -> None:
    """A recorder process writes today's partitions every 0.1 s throughout. Compaction takes the
    past days and leaves today's alone (not closed by default; with before= tomorrow, skipped as
    still written); the recorder writes on unharmed and, once stopped, everything it says it
    wrote is there next to the compacted days, which DuckDB reads exactly as before."""
    past = synthetic(tmp_path, [today() - 2 * DAY, today() - DAY], files=15)
    before = content(tmp_path)
    command = [sys.executable, "-m", "nexusdata.cli", "record", "depth", "BTCUSDT", "ETHUSDT", "--url", sim.nexus_url,
               f"--token={sim.token}", "--flush-seconds", "0.1", "--no-progress", "--out", str(tmp_path)]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    todays = tmp_path / "feed=depth" / "symbol=BTCUSDT" / f"date={today()}"
    both = [todays, tmp_path / "feed=depth" / "symbol=ETHUSDT" / f"date={today()}"]
    try:
        # No event crosses the process boundary: poll the directory, bounded.
        assert wait_until(lambda: all(len(list(d.glob("part-*"))) >= 3 for d in both) or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, proc.communicate()
        summary = nd.compact(tmp_path, idle=0, target_size=TARGET)
        assert (summary.closed, summary.partitions) == (4, 4)
        written = len(list(todays.glob("part-*")))
        busy = nd.compact(tmp_path, before=today() + DAY, idle=30, target_size=TARGET)
        assert busy.partitions == 0 and sum(f"date={today()}: written" in s for s in busy.skipped) == 2, busy
        assert wait_until(lambda: len(list(todays.glob("part-*"))) > written + 2 or proc.poll() is not None, timeout=30)
        assert proc.poll() is None  # still recording after both compactions
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == 130, err
    recorded = int(re.search(r"\((\d+) rows\)", out)[1])  # type: ignore[index]
    assert query(tmp_path, f"SELECT count(*) FROM t WHERE date = '{today()}'") == [(recorded,)]
    assert query(tmp_path, f"SELECT count(*) FROM t WHERE date < '{today()}'") == [(past,)]
    days = content(tmp_path).filter(pc.field("date") < str(today()))
    assert days.equals(before)


class _Killed(BaseException):
    """Stands for a kill in-process: nothing catches it, nothing is cleaned up (the lock is
    released as the system releases a dead process's)."""


def _kill_at(point: str) -> Callable[[str], None]:
    def kill(reached: str) -> None:
        if reached == point:
            raise _Killed(point)

    return kill


KILLS = [("written", "undone"), ("planned", "undone"), ("checked", "undone"), ("swapped", "finished"), ("cleaned", "finished")]
"""Each step of a partition's compaction, and what the next run does about a kill there."""


def _check_resumed(root: Path, before: pa.Table, resumed: str) -> None:
    """Right after a kill, DuckDB reads the same rows; the next run finishes or undoes the
    interrupted partition, then compacts everything; the run after it changes nothing."""
    assert content(root).equals(before)
    [work] = (root / ".compact").glob("feed=*/*/date=*")
    partition = f"feed=depth/symbol=BTCUSDT/date={today() - DAY}"
    assert work.relative_to(root / ".compact").as_posix() == partition
    summary = nd.compact(root, idle=0, target_size=TARGET)
    assert summary.resumed == (f"{partition}: {resumed}",)
    assert summary.partitions == (1 if resumed == "finished" else 2)
    assert content(root).equals(before)
    assert sorted(p.name for p in (root / ".compact").iterdir()) == ["lock"]
    assert all(len(names) < 10 for names in partitions(root).values())
    files = tree(root)
    assert nd.compact(root, idle=0, target_size=TARGET).partitions == 0 and tree(root) == files


@pytest.mark.parametrize(("point", "resumed"), KILLS)
def test_a_kill_at_any_step_is_finished_or_undone_by_the_next_run(
    tmp_path: Path, point: str, resumed: str, steps: Callable[[Callable[[str], None]], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    synthetic(tmp_path, [today() - DAY], files=10)
    before = content(tmp_path)
    steps(_kill_at(point))
    with pytest.raises(_Killed):
        nd.compact(tmp_path, idle=0, target_size=TARGET)
    monkeypatch.setattr(compaction, "_step", lambda point: None)
    _check_resumed(tmp_path, before, resumed)


@pytest.mark.parametrize(("point", "resumed"), [("checked", "undone"), ("swapped", "finished")])
def test_sigkill_of_the_command_mid_compaction_then_a_rerun(tmp_path: Path, point: str, resumed: str) -> None:
    """``nexusdata compact`` killed with SIGKILL just before and just after a swap, at the point
    ``NEXUSDATA_COMPACT_CRASH_AT`` names: the same as above, the lock freed by the system."""
    synthetic(tmp_path, [today() - DAY], files=10)
    before = content(tmp_path)
    command = [
        sys.executable,
        "-m",
        "nexusdata.cli",
        "compact",
        str(tmp_path),
        "--idle",
        "0",
        "--target-size",
        str(TARGET / 2**20),
    ]
    killed = subprocess.run(command, env={**os.environ, compaction.CRASH_AT: point}, capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    _check_resumed(tmp_path, before, resumed)


def test_a_kill_between_the_two_renames_of_a_swap_without_exchange_is_finished(
    tmp_path: Path, steps: Callable[[Callable[[str], None]], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an atomic exchange, a kill after the partition was moved aside leaves it missing;
    the next run puts the merged files in its place first, so the rows are all back."""
    synthetic(tmp_path, [today() - DAY], files=10)
    before = content(tmp_path)
    monkeypatch.setattr(compaction, "_exchange", lambda a, b: False)
    steps(_kill_at("moved-aside"))
    with pytest.raises(_Killed):
        nd.compact(tmp_path, idle=0, target_size=TARGET)
    partition = f"feed=depth/symbol=BTCUSDT/date={today() - DAY}"
    assert not (tmp_path / partition).exists()
    monkeypatch.setattr(compaction, "_step", lambda point: None)
    summary = nd.compact(tmp_path, idle=0, target_size=TARGET)
    assert summary.resumed == (f"{partition}: finished",) and summary.partitions == 1
    assert content(tmp_path).equals(before)


def test_a_read_whose_files_vanish_under_it_lists_them_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A compaction's swap between a read's listing and its reading: the reader lists again and
    reads the new files (here: a file renamed away right after the first listing)."""
    import nexusdata.recording.reader as reader

    with Simulator(seed=31, rate=50) as sim:
        nd.record(tmp_path, "depth", "BTCUSDT", max_messages=20, flush_rows=50, progress=False, **sim.nexus)
    expected = nd.read_recording(tmp_path)
    listed = reader.dataset_of
    listings = []

    def listing_then_swap(root: Path, feed: str) -> Any:
        dataset = listed(root, feed)
        listings.append(dataset)
        if len(listings) == 1:  # the first listing goes stale at once
            moved = Path(dataset.files[0])
            moved.rename(moved.with_name(moved.name.replace("part-", "part-9")))
        return dataset

    monkeypatch.setattr(reader, "dataset_of", listing_then_swap)
    again = nd.read_recording(tmp_path)
    assert len(listings) == 2 and len(expected.index) > 0
    pd.testing.assert_frame_equal(again, expected)
