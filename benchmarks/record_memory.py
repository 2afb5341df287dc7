"""The recorder's memory over a long run at a high push rate: RSS at 1 minute against RSS at the end.

Starts ``nexusdata sim`` in a separate process (so only the recorder's memory is measured),
records the depth of several symbols from it into a temporary directory with ``nd.record`` and
samples this process's RSS while it runs. Prints a line per sample, then RSS at 1 minute, at the
end, their ratio, and the push and row rates achieved.

    python -m benchmarks.record_memory [--minutes 10] [--rate 500] [--symbols 4] [--every 30]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

import nexusdata as nd

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "LTCUSDT", "DOTUSDT")


def start_simulator(rate: float, seconds: float) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``nexusdata sim`` in its own process; returns it and the Nexus keywords to connect with."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "nexusdata.cli", "sim", "--rate", str(rate), "--seconds", str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    printed = ""
    for line in proc.stdout:  # the simulator prints its variables, then "serving"
        printed += line
        if line.startswith("serving"):
            break
    env = dict(re.findall(r"(NEXUSDATA_NEXUS_\w+)=(\S+)", printed))
    return proc, {"url": env["NEXUSDATA_NEXUS_URL"], "token": env["NEXUSDATA_NEXUS_TOKEN"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the recording (default 10)")
    parser.add_argument("--rate", type=float, default=500.0, help="depth pushes per second per symbol (default 500)")
    parser.add_argument("--symbols", type=int, default=4, choices=range(1, len(SYMBOLS) + 1), help="symbols recorded (default 4)")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between RSS samples (default 30)")
    parser.add_argument("--flush-seconds", type=float, default=5.0, help="recorder flush interval (default 5)")
    args = parser.parse_args()

    seconds = args.minutes * 60
    process = psutil.Process()
    samples: list[tuple[float, float]] = []
    done = threading.Event()
    started = time.monotonic()

    def sample() -> None:
        while not done.wait(args.every):
            elapsed, rss = time.monotonic() - started, process.memory_info().rss / 2**20
            samples.append((elapsed, rss))
            print(f"{elapsed:7.0f} s  RSS {rss:8.1f} MiB", flush=True)

    sim, conn = start_simulator(args.rate, seconds + 60)
    out = Path(tempfile.mkdtemp(prefix="nexusdata-record-memory-"))
    sampler = threading.Thread(target=sample, daemon=True)
    print(f"recording depth of {args.symbols} symbols at {args.rate:g} pushes/s each for {args.minutes:g} min into {out}")
    try:
        started = time.monotonic()
        sampler.start()
        summary = nd.record(
            out, "depth", *SYMBOLS[: args.symbols], seconds=seconds, flush_seconds=args.flush_seconds, progress=False, **conn
        )
        done.set()
        final = process.memory_info().rss / 2**20
        disk = sum(f.stat().st_size for f in out.rglob("*.parquet")) / 2**20
    finally:
        done.set()
        sim.terminate()
        sim.wait(timeout=30)
        shutil.rmtree(out, ignore_errors=True)
    at_minute = next((rss for elapsed, rss in samples if elapsed >= 60), samples[0][1] if samples else final)
    pushes = summary.stats["messages"]
    print(summary)
    print(
        f"pushes/s {pushes / summary.seconds:,.0f}   rows/s {summary.rows / summary.seconds:,.0f}   "
        f"files {summary.files:,}   on disk {disk:,.1f} MiB ({disk * 2**20 / max(summary.rows, 1):.1f} bytes/row)"
    )
    print(
        f"RSS at 1 min {at_minute:.1f} MiB   at {summary.seconds / 60:.1f} min {final:.1f} MiB   "
        f"ratio {final / at_minute:.3f}   peak sample {max([r for _, r in samples] + [final]):.1f} MiB"
    )


if __name__ == "__main__":
    main()
