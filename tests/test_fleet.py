"""A recorder fleet: several recorders, each given the same symbols and its own ``--shard i/n``,
split them by a stable hash and write into one dataset without clashing; the union holds every
push each of them received, once, as the simulator sent it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_record import _recorded_pushes, _sent_pushes

import nexusdata as nd
from nexusdata.cli import EXIT_USAGE, main
from nexusdata.kinds import KINDS
from nexusdata.recording.writer import select_shard, shard_of
from nexusdata.sim import SYMBOLS, Simulator

pytestmark = pytest.mark.timeout(90)

SHARDS = {
    "BTCUSDT": 2,
    "ETHUSDT": 2,
    "SOLUSDT": 0,
    "XRPUSDT": 1,
    "ADAUSDT": 0,
    "DOGEUSDT": 0,
    "LTCUSDT": 2,
    "DOTUSDT": 2,
    "BNBUSDT": 0,
}
"""The shard of each simulator symbol among 3: pinned, because recorders started by different
versions of nexusdata must still agree."""
PART = re.compile(r"part-\d{20}-([0-9a-f]{8})-\d{6}\.parquet")


def test_the_shard_of_a_key_is_a_stable_hash() -> None:
    """The same in another interpreter with another hash seed (unlike hash()); the shards of a
    list partition it, in the order given; a thousand ids spread evenly."""
    assert {symbol: shard_of(symbol, 3) for symbol in SYMBOLS} == SHARDS
    code = "from nexusdata.recording.writer import shard_of; print([shard_of(s, 3) for s in %r])" % list(SYMBOLS)
    other = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": "12345"},
                           capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert other.stdout.strip() == str(list(SHARDS.values())), other.stderr
    kind = KINDS["depth"]
    everything = kind.subscriptions(SYMBOLS)
    parts = [select_shard(kind, everything, f"{i}/3") for i in range(3)]
    assert sorted(s.symbol for part in parts for s in part) == sorted(SYMBOLS)
    assert all(list(part) == [s for s in everything if s in part] for part in parts)
    spread = Counter(shard_of(str(i), 4) for i in range(4000))
    assert sorted(spread) == [0, 1, 2, 3] and all(900 < n < 1100 for n in spread.values()), spread
    index = KINDS["pair_index_v3"]  # ids: a whole number and its text are one key
    assert select_shard(index, index.subscriptions([1, 2, 3]), (0, 2)) == select_shard(
        index, index.subscriptions(["1", "2", "3"]), "0/2"
    )
    risk = KINDS["risk"]  # risk: split by symbol, so that each partition has one writer
    pairs = risk.subscriptions([("BTCUSDT", "A"), ("BTCUSDT", "B"), ("XRPUSDT", "A")])
    assert [s.symbol for s in select_shard(risk, pairs, (2, 3))] == ["BTCUSDT", "BTCUSDT"]


@pytest.mark.parametrize("shard", ["3/3", "-1/3", "1", "1/0", "a/b", "1 of 3", (3, 3), (True, 2), [0], 1.5, 0])
def test_a_bad_shard_is_refused_naming_the_form(
    sim: Simulator, tmp_path: Path, shard: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sim.connections_total
    with pytest.raises(
        nd.ArgumentError,
        match=re.escape(
            "shard must be I/N: this recorder's number I, from 0 to N-1, of N recorders (e.g. '0/3', or (0, 3) in Python), got "
        ),
    ):
        nd.record(tmp_path / "rec", "depth", "BTCUSDT", seconds=1, shard=shard, **sim.nexus)
    if isinstance(shard, str):
        status = main(["record", "depth", "BTCUSDT", f"--shard={shard}", "--sim", "--out", str(tmp_path / "rec")])
        assert status == EXIT_USAGE and "shard must be I/N" in capsys.readouterr().err
    assert sim.connections_total == before and not (tmp_path / "rec").exists()


def test_a_shard_with_nothing_to_record_and_the_orders_are_refused(sim: Simulator, tmp_path: Path) -> None:
    with pytest.raises(
        nd.ArgumentError, match=r"shard 0/3 gets none of the 1 symbols given; give more symbols or run fewer recorders"
    ):
        nd.record(tmp_path, "depth", "BTCUSDT", seconds=1, shard=(0, 3), **sim.nexus)
    with pytest.raises(nd.ArgumentError, match=r"shard 1/2 gets none of the 1 ids given"):
        nd.record(tmp_path, "pair_index_v3", "1", seconds=1, shard="1/2", **sim.chainext)
    with pytest.raises(nd.ArgumentError, match=r"shard splits symbols or ids between recorders; orders has none"):
        nd.record(tmp_path, "orders", seconds=1, shard=(0, 1), **sim.nexus)
    summary = nd.record(tmp_path, "depth", *SYMBOLS, max_messages=5, shard=(1, 3), progress=False, **sim.nexus)
    assert summary.rows and set(nd.read_recording(tmp_path)["symbol"]) == {"XRPUSDT"}


def test_three_recorders_share_one_dataset_and_hold_every_push_once(tmp_path: Path) -> None:
    """Three ``nexusdata record depth <all nine symbols> --shard i/3`` processes against one
    simulator, into one directory. Each subscribes to its shard only; every partition has one
    writer and every file a run id of its own; the union read back holds, for each recorder's
    connection, exactly the pushes the simulator sent on it up to the last one received, in
    order, none twice and none from elsewhere. Compacting it afterwards keeps all of that."""
    pushes = 40
    with Simulator(seed=21, rate=50.0, record_sent=True) as sim:
        commands = [
            [sys.executable, "-m", "nexusdata.cli", "record", "depth", *SYMBOLS, "--shard", f"{i}/3", "--url", sim.nexus_url,
             f"--token={sim.token}", "--max-messages", str(pushes), "--flush-seconds", "0.1", "--no-progress", "--out", str(tmp_path)]
            for i in range(3)
        ]  # fmt: skip
        processes = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
        try:
            outputs = [p.communicate(timeout=60) for p in processes]
        finally:
            for p in processes:
                p.kill()
                p.wait(timeout=10)
        sent = sim.sent
        assert sim.connections_total == 3
    shard_symbols = [{s for s in SYMBOLS if SHARDS[s] == i} for i in range(3)]
    for i, (process, (out, err)) in enumerate(zip(processes, outputs)):
        assert process.returncode == 0, err
        assert f"recorded {pushes} pushes" in out and f"shard {i}/3 records" in err

    frame = nd.read_recording(tmp_path, "depth")
    assert set(frame["symbol"]) == set(SYMBOLS)
    runs: dict[str, set[str]] = defaultdict(set)
    for path in (tmp_path / "feed=depth").rglob("*.parquet"):
        runs[PART.fullmatch(path.name)[1]].add(path.parent.parent.name[len("symbol=") :])  # type: ignore[index]
    assert sorted(map(frozenset, runs.values()), key=sorted) == sorted(map(frozenset, shard_symbols), key=sorted)

    by_connection: dict[int, list[str]] = defaultdict(list)
    for push in sent:
        by_connection[push.connection].append(push.text)
    assert len(by_connection) == 3
    for texts in by_connection.values():
        symbols = {orjson.loads(t)["data"]["symbol"] for t in texts}
        [shard] = [s for s in shard_symbols if symbols <= s]  # one recorder's connection
        recorded = _recorded_pushes(frame[frame["symbol"].isin(shard)])
        assert list(recorded) == [1] and len(recorded[1]) == pushes  # one connection per recorder
        assert recorded[1] == _sent_pushes(texts)[:pushes]

    tomorrow = datetime.now(timezone.utc).date() + timedelta(days=1)
    summary = nd.compact(tmp_path, before=tomorrow, idle=0, target_size=2**20)
    assert summary.partitions >= 1 and nd.read_recording(tmp_path, "depth").equals(frame)
