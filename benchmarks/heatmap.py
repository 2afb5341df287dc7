"""The order-book heatmap's grid, as a live chart would compute it on each redraw:
``python -m benchmarks.heatmap``.

Builds the newest ``--pushes`` pushes of a 5-level book (10 rows a push) as a live handle holds
them (the flood server's depth pushes typed by a ``TableBuffer``, one push every 20 ms), then
prints the best and median milliseconds of ``volume_grid`` over ``--rounds`` rounds of 100 calls,
on the frame as a live chart's ``tail()`` gives it and on the same frame carrying a collector's
``attrs``. CPU time (``process_time``) beside the wall clock: less disturbed by other processes on
a shared machine. Target: about 2 ms for 2,000 pushes.
"""

from __future__ import annotations

import argparse
import statistics
import time

import pandas as pd

from nexusdata.frames import TableBuffer
from nexusdata.heatmap import volume_grid
from nexusdata.protocol import tables

from .flood_server import depth_frames

CALLS = 100


def depth_pushes(pushes: int) -> pd.DataFrame:
    """``pushes`` depth pushes of 5 levels a side, 20 ms apart, typed as a live handle types them."""
    frames = depth_frames()
    buffer = TableBuffer(tables.DEPTH)
    for i in range(pushes):
        buffer.extend([frames[i % len(frames)]], 1_700_000_000 * 10**9 + i * 20_000_000, 1)
    return buffer.tail(pushes)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.heatmap", description=__doc__)
    parser.add_argument("--pushes", type=int, default=2000, help="depth pushes (default 2000)")
    parser.add_argument("--rounds", type=int, default=15, help=f"rounds of {CALLS} calls; best and median printed")
    args = parser.parse_args()
    tail = depth_pushes(args.pushes)
    collected = tail.copy()
    collected.attrs["nexusdata"] = {"replies": [{"code": 0, "info": "ok"}] * 20, "gaps": [], "warnings": []}
    for label, depth in (("a live chart's tail()", tail), ("a collector's frame (attrs)", collected)):
        grid = volume_grid(depth)
        cpu, wall = [], []
        for _ in range(args.rounds):
            c, w = time.process_time(), time.perf_counter()
            for _ in range(CALLS):
                volume_grid(depth)
            cpu.append((time.process_time() - c) / CALLS * 1e3)
            wall.append((time.perf_counter() - w) / CALLS * 1e3)
        print(
            f"volume_grid, {label}: {len(depth):,} rows, {grid.volume.shape} grid: "
            f"CPU best {min(cpu):.2f} ms, median {statistics.median(cpu):.2f} ms; "
            f"wall best {min(wall):.2f} ms, median {statistics.median(wall):.2f} ms"
        )


if __name__ == "__main__":
    main()
