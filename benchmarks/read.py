"""Reading a large recording back: pandas (``nd.read_recording``), DuckDB and Dask on a local
cluster, before and after compaction.

    python -m benchmarks.read                 # 10 million depth rows; --rows 1000000 for a quick run

Writes a depth recording of ``--rows`` rows (4 symbols, 10 rows a push, ``--rate`` pushes a
second per symbol) on a closed day, as a recorder flushing every ``--flush-seconds`` would leave
it: one small file per symbol per flush, written by the recorder's own
:class:`~nexusdata.recording.writer.DatasetWriter`. The pushes are made by the simulator's generators
(:class:`~nexusdata.sim.market.Market`, its clock set to the simulated time) and typed by the
frames layer as a connection's would be, so nothing waits for a simulator.

Then each reader runs in a fresh process of its own (``--measure``), twice over, over two tasks:

- **full**: the whole recording as one pandas DataFrame in the measuring process (Dask: its
  ``compute()``, gathered from the workers);
- **agg**: per symbol, the rows and the mean best bid (level-0 bid price), the kind of
  query a cluster answers without moving the data.

and prints the wall time (best of the rounds) and the peak RSS above the process's own
baseline taken after its imports (and, for Dask, the sum of the two workers' peaks above theirs;
the cluster's start is not timed). The files were just written, so they are in the page cache:
this is reading and decoding, not the disk. If ``nd.compact`` exists, the recording is then
compacted and the readers run again; otherwise "compaction not available".
"""

from __future__ import annotations

import argparse
import inspect
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa

DAY = pd.Timestamp("2026-01-05", tz="UTC")
"""The recording's (closed, past) day: compaction leaves today's partitions alone."""
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT")
ROWS_PER_PUSH = 10  # a 5-level book: 5 bids, 5 asks
READERS = ("pandas", "duckdb", "dask")
TASKS = ("full", "agg")


# -- the recording --------------------------------------------------------------------------------


def generate(root: Path, rows: int, rate: float, flush_seconds: float, pool: int) -> dict[str, Any]:
    """Write ``rows`` depth rows under ``root`` (``len(SYMBOLS)`` symbols, ``rate`` pushes a
    second each from :data:`DAY` on), one file per symbol per ``flush_seconds``.

    The simulator's :class:`~nexusdata.sim.market.Market` makes ``pool`` books per symbol (its
    clock set to the simulated time), typed once by the frames layer as a connection's pushes
    are; each file then takes the next pushes of its symbol's pool in turn, stamped with their
    simulated arrival (the books' own times moved with them). Each symbol has its own
    :class:`~nexusdata.recording.writer.DatasetWriter`, writing in a thread of its own as a recorder does.
    """
    from nexusdata.frames import TableBuffer, build_table
    from nexusdata.protocol import nexus, tables
    from nexusdata.protocol.session import dumps
    from nexusdata.recording.writer import DatasetWriter
    from nexusdata.sim import market as market_module

    started = time.perf_counter()
    market, rng = market_module.Market(0), random.Random(0)
    pushes = rows // ROWS_PER_PUSH // len(SYMBOLS)
    step = 1e9 / rate
    # arrival of each push of each symbol: its slot plus up to 40% of a slot of jitter
    jitter = np.random.default_rng(0)
    slots = np.arange(pushes) * step
    arrivals = {s: DAY.value + (slots + jitter.random(pushes) * 0.4 * step).astype(np.int64) for s in SYMBOLS}
    pools: dict[str, pa.Table] = {}
    clock = {"ns": DAY.value}
    with mock.patch.object(market_module, "now_ms", lambda: clock["ns"] // 1_000_000):  # the books' times
        for s in SYMBOLS:
            buffer = TableBuffer(tables.DEPTH)
            for n in range(min(pool, pushes)):
                clock["ns"] = int(arrivals[s][n]) - rng.randint(1_000_000, 20_000_000)  # the book left 1-20 ms earlier
                buffer.extend([dumps(nexus.push(nexus.MARKETDEPTH, market.book(s, 5, rng))).encode()], int(arrivals[s][n]), 1)
            pools[s] = build_table(tables.DEPTH, buffer.take_chunks(), consume=True)
    per_file = max(1, round(rate * flush_seconds))
    writers = {s: DatasetWriter(root, tables.DEPTH) for s in SYMBOLS}  # one recorder per symbol
    threads = {s: ThreadPoolExecutor(1) for s in SYMBOLS}
    pending: list[Future[None]] = []
    for first in range(0, pushes, per_file):
        for s in SYMBOLS:
            table = pools[s]
            n = np.arange(first, min(first + per_file, pushes))
            taken = (n % (table.num_rows // ROWS_PER_PUSH))[:, None] * ROWS_PER_PUSH + np.arange(ROWS_PER_PUSH)
            data = table.take(pa.array(taken.ravel()))
            received = np.repeat(arrivals[s][n], ROWS_PER_PUSH)
            moved = received - data.column("received_at").to_numpy().astype(np.int64)
            times = data.column("time").to_numpy().astype(np.int64) + moved // 1_000_000
            data = data.set_column(0, "received_at", pa.array(received, type=data.schema.field(0).type))
            i = data.schema.get_field_index("time")
            data = data.set_column(i, "time", pa.array(times, type=data.schema.field(i).type))
            pending.append(threads[s].submit(writers[s].write, data))
        if len(pending) > 8 * len(SYMBOLS):
            for done in pending:
                done.result()
            pending.clear()
    for done in pending:
        done.result()
    for thread in threads.values():
        thread.shutdown()
    files = sorted(root.rglob("*.parquet"))
    return {
        "rows": sum(w.rows for w in writers.values()),
        "files": len(files),
        "bytes": sum(f.stat().st_size for f in files),
        "seconds": time.perf_counter() - started,
        "span_seconds": pushes * step / 1e9,
    }


def layout(root: Path) -> dict[str, Any]:
    files = sorted(root.rglob("*.parquet"))
    return {"files": len(files), "bytes": sum(f.stat().st_size for f in files)}


# -- one measurement, in a process of its own -----------------------------------------------------


def pandas_reader(root: Path, task: str, workers: int) -> int:
    import nexusdata as nd

    df = nd.read_recording(root, "depth")
    if task == "full":
        return len(df)
    counts = df.groupby("symbol", observed=True).size()
    best = df[(df["side"] == "bid") & (df["level"] == 0)].groupby("symbol", observed=True)["price"].mean()
    assert len(best) == len(counts) == len(SYMBOLS)
    return int(counts.sum())


def duckdb_reader(root: Path, task: str, workers: int) -> int:
    import duckdb

    files = (root / "feed=depth" / "*" / "*" / "*.parquet").as_posix()
    source = f"read_parquet('{files}', hive_partitioning = true)"
    if task == "full":
        df = duckdb.sql(
            f'SELECT received_at, connection, symbol, side, level, price, volume, cp, "time" FROM {source} ORDER BY received_at'
        ).df()
        return len(df)
    agg = duckdb.sql(
        f"SELECT symbol, count(*) AS rows, avg(price) FILTER (WHERE side = 'bid' AND level = 0) AS best_bid"
        f" FROM {source} GROUP BY symbol"
    ).df()
    assert len(agg) == len(SYMBOLS)
    return int(agg["rows"].sum())


def dask_reader(root: Path, task: str, workers: int) -> int:
    import dask

    import nexusdata as nd

    ddf = nd.read_recording(root, "depth", engine="dask")
    if task == "full":
        return len(ddf.compute())
    bids = ddf[(ddf["side"] == "bid") & (ddf["level"] == 0)]
    counts, best = dask.compute(
        ddf.groupby("symbol", observed=True).size(), bids.groupby("symbol", observed=True)["price"].mean()
    )
    assert len(best) == len(counts) == len(SYMBOLS)
    return int(counts.sum())


MEASURED: dict[str, Callable[[Path, str, int], int]] = {"pandas": pandas_reader, "duckdb": duckdb_reader, "dask": dask_reader}


def start_cluster(workers: int) -> Any:
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(processes=True, n_workers=workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=None)
    return Client(cluster)


def _warm_up() -> None:
    """What a worker imports to read a recording, loaded before the measured run (as the
    measuring process has its imports done before it)."""
    import dask.dataframe  # noqa: F401
    import pyarrow.dataset  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import nexusdata.recording.reader  # noqa: F401


def _reset_peak() -> None:
    from .measure import reset_peak_rss

    reset_peak_rss()


def _rss() -> tuple[int, int]:
    from .measure import peak_rss_bytes, rss_bytes

    return rss_bytes(), peak_rss_bytes()


def measure(reader: str, task: str, root: Path, workers: int) -> dict[str, Any]:
    """Run one reader once in this process; its seconds, rows and peak RSS above baseline."""
    import duckdb  # noqa: F401  (imports are not what is measured)
    import pyarrow.dataset  # noqa: F401

    import nexusdata  # noqa: F401

    from .measure import peak_rss_bytes, reset_peak_rss, rss_bytes

    client, worker_base = None, {}
    if reader == "dask":
        import dask.dataframe  # noqa: F401

        client = start_cluster(workers)
        client.run(_warm_up)
        client.run(_reset_peak)
        worker_base = {w: rss for w, (rss, _) in client.run(_rss).items()}
    baseline = rss_bytes()
    reset_peak_rss()
    start = time.perf_counter()
    rows = MEASURED[reader](root, task, workers)
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {
        "reader": reader,
        "task": task,
        "rows": rows,
        "seconds": seconds,
        "peak_rss_above_baseline": peak_rss_bytes() - baseline,
    }
    if client is not None:
        peaks = client.run(_rss)
        result["workers_peak_above_baseline"] = sum(peak - worker_base[w] for w, (_, peak) in peaks.items())
        client.close()
        client.cluster.close()
    return result


def run_measure(reader: str, task: str, root: Path, workers: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.read", "--measure", reader, task, str(root), "--workers", str(workers)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if out.returncode:
        raise RuntimeError(f"{reader} {task} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the report -----------------------------------------------------------------------------------


def compare(label: str, root: Path, rows: int, rounds: int, workers: int, readers: tuple[str, ...]) -> None:
    shape = layout(root)
    print(f"\n{label}: {shape['files']:,} files, {shape['bytes'] / 2**20:.1f} MiB on disk")
    print(f"{'reader':<8} {'task':<5} {'seconds':>8} {'rows/s':>12} {'peak RSS MiB':>13} {'workers MiB':>12}   rounds (s)")
    for task in TASKS:
        runs: dict[str, list[dict[str, Any]]] = {r: [] for r in readers}
        for _ in range(rounds):
            for reader in readers:  # alternating, so drift in the machine's load hits them alike
                runs[reader].append(run_measure(reader, task, root, workers))
        for reader in readers:
            best = min(runs[reader], key=lambda r: r["seconds"])
            assert all(r["rows"] == rows for r in runs[reader]), (reader, task, [r["rows"] for r in runs[reader]])
            workers_mib = best.get("workers_peak_above_baseline")
            print(
                f"{reader:<8} {task:<5} {best['seconds']:8.2f} {rows / best['seconds']:12,.0f}"
                f" {best['peak_rss_above_baseline'] / 2**20:13.1f}"
                f" {'' if workers_mib is None else f'{workers_mib / 2**20:.1f}':>12}"
                "   " + ", ".join(f"{r['seconds']:.2f}" for r in runs[reader])
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.read", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000, help="depth rows to write and read (default 10000000)")
    parser.add_argument("--rate", type=float, default=20.0, help="pushes a second per symbol (default 20)")
    parser.add_argument("--flush-seconds", type=float, default=5.0, help="seconds of data per file (default 5)")
    parser.add_argument("--pool", type=int, default=20_000, help="distinct books made per symbol (default 20000)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each reader and task; the best is shown")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes, one thread each (default 2)")
    parser.add_argument("--readers", default=",".join(READERS), help="comma-separated, of: " + ", ".join(READERS))
    parser.add_argument("--out", type=Path, help="where to write the recording (default: a temporary directory, removed)")
    parser.add_argument("--measure", nargs=3, metavar=("READER", "TASK", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        reader, task, root = args.measure
        print(json.dumps(measure(reader, task, Path(root), args.workers)))
        return
    readers = tuple(r for r in args.readers.split(",") if r)
    if not readers or any(r not in READERS for r in readers):
        parser.error(f"--readers takes {', '.join(READERS)}")
    root = Path(tempfile.mkdtemp(prefix="nexusdata-read-")) if args.out is None else args.out
    if root.exists() and any(root.iterdir()):
        parser.error(f"--out {root} is not empty")
    try:
        made = generate(root, args.rows, args.rate, args.flush_seconds, args.pool)
        print(
            f"wrote {made['rows']:,} depth rows of {len(SYMBOLS)} symbols ({made['span_seconds'] / 3600:.1f} h at"
            f" {args.rate:g} pushes/s each) into {made['files']:,} files, {made['bytes'] / 2**20:.1f} MiB"
            f" ({made['bytes'] / made['rows']:.1f} bytes/row), in {made['seconds']:.1f} s under {root}"
        )
        compare("as recorded", root, made["rows"], args.rounds, args.workers, readers)
        import nexusdata

        compact = getattr(nexusdata, "compact", None)  # nd.compact, loaded on first use
        if compact is None:
            print("\ncompaction not available (no nd.compact)")
            return
        options: dict[str, Any] = {"feed": "depth"}
        if "idle" in inspect.signature(compact).parameters:
            options["idle"] = 0  # just written, yet closed: nothing writes to it any more
        start = time.perf_counter()
        done = compact(root, **options)
        print(f"\ncompacted in {time.perf_counter() - start:.1f} s: {done}")
        compare("after compaction", root, made["rows"], args.rounds, args.workers, readers)
    finally:
        if args.out is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
