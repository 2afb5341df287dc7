"""The book analytics on 1,000,000 depth rows: ``python -m benchmarks.analytics``.

Builds the rows as a live handle holds them (the flood server's depth pushes, 5 levels a side,
typed by a ``TableBuffer``, as ``frame_latency`` in ``python -m benchmarks`` does), checks that
``nd.wide`` and back is the identity, then prints the best and median seconds over ``--rounds``
runs of ``nd.wide``, ``nd.tidy_depth``, ``nd.top_of_book`` (1 and 5 levels, from the rows and
from the wide frame), ``nd.wide`` of the rows shuffled (the path for pushes whose rows are not
adjacent) and ``nd.bars`` of the mid price. Target: well under a second each.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import nexusdata as nd
from nexusdata.frames import TableBuffer
from nexusdata.protocol import tables

from .flood_server import depth_frames


def depth_rows(rows: int) -> pd.DataFrame:
    """About ``rows`` depth rows (10 a push), typed as a collector or live handle types them."""
    frames = depth_frames()
    buffer = TableBuffer(tables.DEPTH)
    for i in range(max(1, rows // 10 // len(frames))):
        buffer.extend(frames, i * 10**9, 1)
    return buffer.dataframe()


def timed(call: Callable[[], Any], rounds: int) -> tuple[float, float]:
    """Best and median seconds of ``call`` over ``rounds`` runs."""
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return min(seconds), statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.analytics", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="depth rows (default 1000000)")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each call; best and median printed")
    args = parser.parse_args()
    depth = depth_rows(args.rows)
    wide = nd.wide(depth)
    pd.testing.assert_frame_equal(nd.tidy_depth(wide), depth)  # the identity, before anything is timed
    shuffled = depth.iloc[np.random.default_rng(0).permutation(len(depth))]
    calls: dict[str, Callable[[], Any]] = {
        "nd.wide(depth)": lambda: nd.wide(depth),
        "nd.tidy_depth(wide)": lambda: nd.tidy_depth(wide),
        "nd.top_of_book(depth)": lambda: nd.top_of_book(depth),
        "nd.top_of_book(depth, levels=5)": lambda: nd.top_of_book(depth, levels=5),
        "nd.top_of_book(wide, levels=5)": lambda: nd.top_of_book(wide, levels=5),
        "nd.wide(rows shuffled)": lambda: nd.wide(shuffled),
        'nd.bars(depth, "1s")': lambda: nd.bars(depth, "1s"),
    }
    print(
        f"{len(depth):,} depth rows, {len(wide):,} pushes, {depth['level'].max() + 1} levels a side; seconds over {args.rounds} runs"
    )
    print(f"{'call':<34} {'best':>7} {'median':>7}")
    for label, call in calls.items():
        best, median = timed(call, args.rounds)
        print(f"{label:<34} {best:7.3f} {median:7.3f}")


if __name__ == "__main__":
    main()
