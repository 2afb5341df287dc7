"""The recorder against the simulator over loopback: what it writes equals what a collector
returns, files are partitioned and flushed as documented, a SIGKILLed recorder leaves a readable
dataset, and forced disconnects lose nothing received and duplicate nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from waiting import wait_until

import nexusdata as nd
from nexusdata.frames import build_dataframe
from nexusdata.kinds import ORDER_VIEWS
from nexusdata.protocol import TABLES, chainext, tables
from nexusdata.recording.layout import file_schema
from nexusdata.recording.writer import DatasetWriter
from nexusdata.sim import Simulator

Collect = Callable[[Simulator, int], pd.DataFrame]

CASES: dict[str, tuple[tuple[Any, ...], dict[str, str], Collect]] = {
    "depth": (
        ("BTCUSDT", "ETHUSDT"),
        {"symbol": "BTCUSDT"},
        lambda sim, n: nd.stream_depth("BTCUSDT", seconds=300, max_messages=n, **sim.nexus),
    ),
    "pair_index_v3": (
        ("1", "0"),
        {"id": "1"},
        lambda sim, n: nd.collect_index("pair_index_v3", "1", seconds=300, max_messages=n, **sim.chainext),
    ),
    "executions": ((), {}, lambda sim, n: nd.collect_orders(seconds=300, max_messages=n, rows="executions", **sim.nexus)),
}
"""Per feed: what to record, which part of it to compare, and the collector of that part (which
stops at the recorded number of pushes; ``seconds`` only bounds it)."""


def _time_columns(table: tables.Table) -> list[str]:
    return ["received_at", *(name for name, kind in table.columns if kind == "time")]


def check_recording_equals_collector(root: Path, feed: str, seconds: float, flush_seconds: float) -> None:
    """Record ``feed`` from one simulator and collect the same part from another with the same
    seed (each subscription's values follow the seed; only clock-based times differ), then
    compare: same columns and dtypes, same values."""
    keys, part, collect = CASES[feed]
    view = {"rows": feed} if feed in ORDER_VIEWS else {}  # an order view is chosen by rows=
    feed = "orders" if view else feed
    with Simulator(seed=5, rate=100.0) as recorded_sim, Simulator(seed=5, rate=100.0) as collected_sim:
        conn = recorded_sim.chainext if feed in chainext.TOPICS else recorded_sim.nexus
        summary = nd.record(root, feed, *keys, seconds=seconds, flush_seconds=flush_seconds, **view, **conn)
        recorded = nd.read_recording(root, feed, **view, **part)
        pushes = recorded["received_at"].nunique()
        assert pushes >= 10
        collected = collect(collected_sim, pushes)
    assert collected["received_at"].nunique() == pushes
    assert summary.files > 1 and summary.rows == len(nd.read_recording(root, feed, **view))
    assert list(recorded.columns) == list(collected.columns)
    assert recorded.dtypes.astype(str).tolist() == collected.dtypes.astype(str).tolist()
    for name in recorded.select_dtypes("category"):
        assert recorded[name].cat.categories.dtype == collected[name].cat.categories.dtype, name
    assert recorded["received_at"].is_monotonic_increasing and (recorded["connection"] == 1).all()
    values = [c for c in recorded.columns if c not in _time_columns(TABLES[feed]) and c != "connection"]
    pd.testing.assert_frame_equal(recorded[values], collected[values], check_categorical=False)


@pytest.mark.parametrize("feed", list(CASES))
def test_recording_reads_back_as_the_collector_returns(tmp_path: Path, feed: str, no_thread_leak: None) -> None:
    check_recording_equals_collector(tmp_path, feed, seconds=1.0, flush_seconds=0.25)


@pytest.mark.soak
@pytest.mark.timeout(400)  # a minute recording, then a minute collecting the same pushes
@pytest.mark.parametrize("feed", list(CASES))
def test_sixty_second_recording_reads_back_as_the_collector_returns(tmp_path: Path, feed: str) -> None:
    check_recording_equals_collector(tmp_path, feed, seconds=60.0, flush_seconds=5.0)


def _depth_frame(rows: list[tuple[int, int, str | None, str]]) -> pd.DataFrame:
    """A depth DataFrame with the collector's dtypes: (received_at ns, connection, symbol, side)."""
    received, connection, symbol, side = zip(*rows)
    frame = pd.DataFrame(
        {
            "received_at": pd.to_datetime(received, utc=True),
            "connection": connection,
            "symbol": symbol,
            "side": side,
            "level": 0,
            "price": 1.5,
            "volume": 2.0,
            "cp": "b2c2",
            "time": pd.to_datetime(received, utc=True),
        }
    )
    return frame.astype(build_dataframe(tables.DEPTH, []).dtypes.astype(str).to_dict())


def test_partitions_by_symbol_and_utc_date(tmp_path: Path) -> None:
    """Rows land under feed=/symbol=/date= by their own symbol and UTC day (a push just before
    midnight and one just after go to two dates); awkward symbols are URI-encoded, a missing one
    goes to Hive's default partition; no temporary file remains."""
    midnight = pd.Timestamp("2026-11-22", tz="UTC").value
    frame = _depth_frame(
        [
            (midnight - 1_000, 1, "BTC/USDT", "bid"),
            (midnight - 1_000, 1, "BTC/USDT", "ask"),
            (midnight + 1_000, 2, "BTC/USDT", "bid"),
            (midnight + 1_001, 2, None, "bid"),
        ]
    )
    writer = DatasetWriter(tmp_path, tables.DEPTH)
    writer.write(pa.Table.from_pandas(frame, preserve_index=False))
    files = sorted(p.relative_to(tmp_path).parent.as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == [
        "feed=depth/symbol=BTC%2FUSDT/date=2026-11-21",
        "feed=depth/symbol=BTC%2FUSDT/date=2026-11-22",
        "feed=depth/symbol=__HIVE_DEFAULT_PARTITION__/date=2026-11-22",
    ]
    assert (writer.files, writer.rows) == (3, 4)
    # plain Parquet types (categories as strings), and the symbol in the path only
    assert all(pq.read_schema(f).equals(file_schema(tables.DEPTH)) for f in tmp_path.rglob("*.parquet"))
    assert "symbol" not in file_schema(tables.DEPTH).names
    back = nd.read_recording(tmp_path)
    pd.testing.assert_frame_equal(back, frame, check_categorical=False)
    after = nd.read_recording(tmp_path, symbol="BTC/USDT", start="2026-11-22")
    assert len(after) == 1 and after["received_at"].iloc[0] == pd.Timestamp(midnight + 1_000, tz="UTC")


def test_sigkill_leaves_a_readable_dataset(tmp_path: Path) -> None:
    """Kill -9 a recorder while it writes a file every 0.1 s: every file already written reads
    back (files appear under their final name only once complete), and so does the whole
    dataset, with pyarrow too. A half-written temporary file, as a kill mid-write leaves, is
    skipped by the readers."""
    out = tmp_path / "rec"
    command = [
        sys.executable,
        "-m",
        "nexusdata.cli",
        "record",
        "depth",
        "BTCUSDT",
        "ETHUSDT",
        "--sim",
        "--sim-rate",
        "200",
        "--flush-seconds",
        "0.1",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # No event crosses the process boundary: poll the directory, bounded.
        wait_until(lambda: len(list(out.rglob("*.parquet"))) >= 6 or proc.poll() is not None, timeout=60, interval=0.05)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    files = list(out.rglob("*.parquet"))
    assert len(files) >= 6
    partition = files[0].parent
    (partition / ".part-99999999999999999999-deadbeef-000000.parquet.tmp").write_bytes(b"PAR1 cut short")
    assert all(pq.read_metadata(f).num_rows > 0 for f in files)
    depth = nd.read_recording(out, "depth")
    assert set(depth["symbol"]) == {"BTCUSDT", "ETHUSDT"} and len(depth) % 10 == 0
    assert ds.dataset(out / "feed=depth", format="parquet", partitioning="hive").count_rows() == len(depth)


Push = tuple[tuple[Any, ...], ...]


def _recorded_pushes(frame: pd.DataFrame) -> dict[int, list[Push]]:
    """A recorded depth frame's pushes per connection, in order, each as the tuple of its rows."""
    columns = ["symbol", "side", "level", "price", "volume", "cp", "time"]
    pushes: dict[int, list[Push]] = defaultdict(list)
    for (connection, _), rows in frame.groupby(["connection", "received_at"], sort=False, observed=True):
        pushes[int(connection)].append(tuple(rows[columns].itertuples(index=False, name=None)))
    return pushes


def _sent_pushes(texts: list[str]) -> list[Push]:
    """Depth pushes as the simulator sent them, flattened by the protocol layer alone, each as
    the tuple of its rows with the values typed as in a DataFrame."""
    columns, origin = tables.DEPTH.flatten([orjson.loads(text)["data"] for text in texts])
    rows = zip(
        columns["symbol"],
        columns["side"],
        columns["level"],
        map(float, columns["price"]),
        map(float, columns["volume"]),
        columns["cp"],
        (pd.Timestamp(int(t), unit="ms", tz="UTC") for t in columns["time"]),
    )
    pushes: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for index, row in zip(origin, rows):
        pushes[index].append(row)
    return [tuple(pushes[i]) for i in sorted(pushes)]


def test_disconnects_lose_nothing_received_and_duplicate_nothing(tmp_path: Path, no_thread_leak: None) -> None:
    """The simulator cuts the recorder's connection (TCP abort) every 25 pushes while it records.

    "Sent while connected" here is every push the server sent on a connection up to the last one
    the recorder received on it: pushes sent after that were in flight when the connection was
    cut (or when the recorder stopped) and may never arrive. For every connection the recording
    must hold exactly that prefix of what the server sent, in order: no push missing, none
    twice, none from elsewhere; and every push the recorder accepted is in the dataset."""
    done = threading.Event()
    drops = 0

    def dropper() -> None:
        nonlocal drops
        while not done.is_set() and drops < 10:
            if not sim.wait_for_sent(len(sim.sent) + 25, timeout=10) or done.is_set():
                return
            drops += int(sim.drop_connections() > 0)

    with Simulator(seed=2, rate=100.0, record_sent=True) as sim:
        cutter = threading.Thread(target=dropper)
        cutter.start()
        try:
            summary = nd.record(
                tmp_path, "depth", "BTCUSDT", seconds=3, flush_seconds=0.2, backoff_base=0.02, backoff_cap=0.1, **sim.nexus
            )
        finally:
            done.set()
            cutter.join(timeout=15)
        sent = sim.sent
        connections_total = sim.connections_total
    recorded = _recorded_pushes(nd.read_recording(tmp_path, "depth"))
    assert drops >= 4 and drops <= len(recorded) <= drops + 1
    assert connections_total == summary.stats["connection"] >= len(recorded)  # the last may end before any push
    assert sorted(recorded) == list(range(1, len(recorded) + 1))
    by_connection: dict[int, list[str]] = defaultdict(list)
    for push in sent:
        by_connection[push.connection].append(push.text)
    for connection, texts in by_connection.items():
        expected, got = _sent_pushes(texts), recorded.get(connection, [])
        assert got == expected[: len(got)], f"connection {connection}: recording differs from what was sent"
    assert sum(len(p) for p in recorded.values()) == summary.stats["messages"]
    assert sum(len(p) for p in recorded.values()) >= len(sent) // 2  # only in-flight tails may be missing


def test_refused_credentials_end_the_recording(sim: Simulator, tmp_path: Path) -> None:
    """With no time limit, only a prompt AuthenticationError can end these calls."""
    with pytest.raises(nd.AuthenticationError) as err:
        nd.record(tmp_path, "depth", "BTCUSDT", url=sim.nexus_url, token="wrong-token")
    assert "wrong-token" not in str(err.value)
    with pytest.raises(nd.AuthenticationError) as err:
        nd.record(tmp_path, "coin_index", "1", url=sim.chainext_url, api_key=sim.api_key, api_secret="nope")
    assert err.value.code == 2012 and "nope" not in str(err.value)


def test_progress_line_in_a_terminal_unless_declined(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    nd.record(tmp_path, "depth", "BTCUSDT", max_messages=3, **sim.nexus)
    assert capsys.readouterr().err == ""  # not a terminal: silent
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    nd.record(tmp_path, "depth", "BTCUSDT", max_messages=3, progress=False, **sim.nexus)
    assert capsys.readouterr().err == ""
    summary = nd.record(tmp_path, "depth", "BTCUSDT", max_messages=3, **sim.nexus)
    err = capsys.readouterr().err
    assert "recording depth" in err and "3/3 messages" in err and "/s" in err
    assert summary.stats["messages"] == 3 and "recorded 3 pushes (30 rows) of depth" in str(summary)


def test_ctrl_c_writes_what_arrived_and_a_second_one_stops_the_script(sim: Simulator, tmp_path: Path, stop_button) -> None:
    """record shares the collectors' run loop: the first Ctrl-C ends the recording with what
    arrived written; a second one within a few seconds raises, after writing what it held."""
    first, second = tmp_path / "first", tmp_path / "second"
    threading.Timer(0.5, stop_button).start()
    summary = nd.record(first, "depth", "BTCUSDT", progress=False, **sim.nexus)
    assert summary.interrupted and summary.rows > 0 and nd.read_recording(first).shape[0] == summary.rows
    threading.Timer(0.5, stop_button).start()
    with pytest.raises(KeyboardInterrupt):
        nd.record(second, "depth", "BTCUSDT", progress=False, **sim.nexus)
    assert len(nd.read_recording(second)) > 0  # written before the interrupt went on
