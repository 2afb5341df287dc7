"""What one redraw of each live chart costs, and how often it redraws, on a calm feed: a live
handle on the embedded simulator at 20 pushes a second (in this process, as in a notebook), its
chart refreshed every ``1 / max_fps`` seconds as the kernel's event loop does, with default
options. Counted in the main thread's CPU time (what drawing takes from ingestion), from the
chart's first frame with data on, the frames that lay the chart out included.

    python -m benchmarks.redraw [SECONDS]     # 20 by default

Prints one line per chart: redraws a second, and the CPU of a redraw (median, 90th percentile,
mean) with the number of full draws among them. It uses only ``live.plot()`` and
``chart.refresh()``, so it measures earlier versions of the charts as well.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import nexusdata as nd
from nexusdata.sim import Simulator

RATE = 20
"""Pushes a second of the calm feed."""

CHARTS = ("depth", "heatmap", "pair_weights")


def measure(chart: str, seconds: float) -> dict[str, Any]:
    """Redraw ``chart`` (``depth``, ``heatmap`` or ``pair_weights``) on a calm feed for ``seconds``."""
    with Simulator(seed=0, rate=RATE) as sim:
        handle = (
            nd.live_index("pair_index_v3", "1", **sim.chainext)
            if chart == "pair_weights"
            else nd.live_depth("BTCUSDT", **sim.nexus)
        )
        with handle:
            deadline = time.monotonic() + 30
            while not handle.feed.accepted and time.monotonic() < deadline:
                time.sleep(0.01)  # the first push: the chart's frames from then on are measured
            plot = handle.plot(chart="heatmap") if chart == "heatmap" else handle.plot()  # older versions: no chart=
            pause = 1 / plot.max_fps
            costs: list[float] = []
            start = time.monotonic()
            while time.monotonic() - start < seconds:
                time.sleep(pause)
                cpu = time.thread_time()
                if plot.refresh():
                    costs.append(time.thread_time() - cpu)
            elapsed = time.monotonic() - start
            full = getattr(getattr(plot, "animation", None), "full_draws", None)
    return {
        "chart": chart,
        "redraws_per_second": len(costs) / elapsed,
        "median_ms": statistics.median(costs) * 1000,
        "p90_ms": statistics.quantiles(costs, n=10)[-1] * 1000,
        "mean_ms": statistics.fmean(costs) * 1000,
        "redraws": len(costs),
        "full_draws": full,
    }


def line(result: dict[str, Any]) -> str:
    full = f", {result['full_draws']} of them full" if result["full_draws"] is not None else ""
    return (
        f"{result['chart']:<13} calm {RATE}/s: {result['redraws_per_second']:5.1f} redraws/s; CPU a redraw: median"
        f" {result['median_ms']:6.1f} ms, 90th percentile {result['p90_ms']:6.1f} ms, mean {result['mean_ms']:6.1f} ms"
        f" over {result['redraws']} redraws{full}"
    )


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    for chart in CHARTS:
        print(line(measure(chart, seconds)), flush=True)


if __name__ == "__main__":
    main()
