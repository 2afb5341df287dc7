"""The benchmark suite: ``python -m benchmarks`` (options: ``--help``).

Starts the flood server (:mod:`benchmarks.flood_server`) in its own process, then runs each
approach in a fresh process of its own (:mod:`benchmarks.measure`), alternating approaches
round by round so that drift in the machine's load hits them alike, and prints messages/s,
rows/s, bytes per row, peak RSS and the ratio to the floor measured in the same run (best
round of each): the bare loop, the naive concat loop, the collector, a live handle and the
recorder, with the least CPU a message of each (every thread's, user and system: less
disturbed by the other work of a shared machine than a rate). Then, per feed, each live
chart's cost to a live handle, from alternating windows with and without it in one run, with
its redraws a second and CPU a redraw under the flood (:mod:`benchmarks.plot_cost`); the same on
a calm feed (:mod:`benchmarks.redraw`); the frame-latency check of a 1-million-row buffer, the
CPU a websocket frame costs to split (:mod:`benchmarks.framing`), the CPU a push costs in each
stage of its path (:mod:`benchmarks.stages`) and what ``import nexusdata`` costs after pandas
(:mod:`benchmarks.import_time`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

from . import framing, import_time, plot_cost, redraw, stages
from .flood_server import running
from .stats import mean_and_margin

CHARTS = {"depth": ("depth", "heatmap"), "pair_index_v3": ("pair_weights",)}
"""The live charts measured under the flood, per feed."""


def measure(approach: str, feed: str, port: int, messages: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.measure", approach, feed, str(port), str(messages)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def chart_cost(feed: str, port: int, pairs: int, seconds: float, chart: str | None = None) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.plot_cost", feed, str(port), str(pairs), str(seconds), *([chart] if chart else [])],
        capture_output=True,
        text=True,
        timeout=600 + 4 * pairs * seconds,
        check=True,
    )
    return plot_cost.summary(json.loads(out.stdout.strip().splitlines()[-1]))


def frame_latency(rows: int = 1_000_000) -> float:
    """Seconds for ``TableBuffer.dataframe()`` over ``rows`` depth rows (a live handle's window)."""
    from nexusdata.frames import TableBuffer
    from nexusdata.protocol import tables

    from .flood_server import depth_frames

    frames = depth_frames()
    buffer = TableBuffer(tables.DEPTH)
    for i in range(rows // 10 // len(frames)):
        buffer.extend(frames, i * 10**9, 1)
    buffer.dataframe()  # types the pending batch, as a live handle's background thread would have
    start = time.perf_counter()
    buffer.dataframe()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000, help="pushes per measured run (default 100000)")
    parser.add_argument("--naive-messages", type=int, default=2_000, help="pushes for the per-message concat run")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; the best of each is kept")
    parser.add_argument("--chart-pairs", type=int, default=40, help="pairs of windows with and without a live chart")
    parser.add_argument("--chart-seconds", type=float, default=3.0, help="length of each of those windows")
    parser.add_argument("--calm-seconds", type=float, default=20.0, help="seconds each chart redraws on a calm feed")
    args = parser.parse_args()
    print(
        f"{'feed':<14} {'approach':<26} {'msgs/s':>9} {'rows/s':>10} {'B/row':>6} {'peak RSS MB':>11} {'RSS/frame':>9}"
        f" {'vs floor':>8} {'CPU µs/msg':>10}"
    )
    with running() as port:
        for feed in ("depth", "pair_index_v3"):
            runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for _ in range(args.rounds):
                for approach in ("floor", "nexusdata", "live", "record"):
                    runs[approach].append(measure(approach, feed, port, args.messages))
            runs["naive"].append(measure("naive", feed, port, args.naive_messages))
            best = {a: min(r, key=lambda x: x["seconds"]) for a, r in runs.items()}
            floor_rate = best["floor"]["messages"] / best["floor"]["seconds"]
            rows_per_msg = best["nexusdata"]["rows"] / best["nexusdata"]["messages"]
            labels = {
                "floor": "floor (ws-client+json)",
                "naive": f"naive concat ({args.naive_messages})",
                "nexusdata": "nexusdata collector",
                "live": "live handle",
                "record": "recorder to Parquet",
            }
            for approach, label in labels.items():
                r = best[approach]
                rate = r["messages"] / r["seconds"]
                size = f"{r['frame_bytes'] / r['rows']:6.1f}" if r.get("rows") else f"{'':6}"
                rss = r["peak_rss_above_baseline"] / 2**20
                ratio = f"{r['peak_rss_above_baseline'] / r['frame_bytes']:9.2f}" if r.get("frame_bytes") else f"{'':9}"
                cpu = min(x["cpu_seconds"] / x["messages"] for x in runs[approach]) * 1e6
                print(
                    f"{feed:<14} {label:<26} {rate:9.0f} {rate * rows_per_msg:10.0f} {size} {rss:11.1f} {ratio}"
                    f" {rate / floor_rate:8.2f} {cpu:10.1f}"
                )
            paired = [c["seconds"] / r["seconds"] for c, r in zip(runs["nexusdata"], runs["record"])]
            mean, margin = mean_and_margin(paired)
            print(
                f"{feed:<14} recorder / collector: {best['nexusdata']['seconds'] / best['record']['seconds']:.2f} best of each,"
                f" {mean:.2f} (95% CI {mean - margin:.2f} to {mean + margin:.2f}) over {len(paired)} rounds:"
                f" {', '.join(f'{x:.2f}' for x in paired)}"
            )
            for chart_name in CHARTS[feed]:
                chart = chart_cost(feed, port, args.chart_pairs, args.chart_seconds, chart_name)
                print(
                    f"{feed:<14} a live {chart_name} chart costs a live handle {chart['cost']:.1%} of its pushes/s (95% CI"
                    f" {chart['low']:.1%} to {chart['high']:.1%}, median {chart['median']:.1%}) over {chart['pairs']:.0f}"
                    f" pairs of {args.chart_seconds:g} s windows; drawing took {chart['drawing_share']:.1%} of the windows"
                    f" with it: {chart['redraws']:.0f} redraws ({chart['busy']:.0f} finding ingestion busy),"
                    f" {chart['redraws_per_second']:.1f} a second, {chart['cpu_per_redraw'] * 1000:.1f} ms of CPU each"
                )
    for result in map(redraw.measure, redraw.CHARTS, [args.calm_seconds] * len(redraw.CHARTS)):
        print(redraw.line(result))
    print(f"TableBuffer.dataframe() over 1,000,000 depth rows: {frame_latency() * 1000:.1f} ms")
    framing.main()
    stages.main()
    import_time.main()


if __name__ == "__main__":
    main()
