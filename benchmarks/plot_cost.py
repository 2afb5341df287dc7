"""What a live chart costs a live handle's ingestion, measured with and without the chart in one
run: one live handle takes the flood while its chart redraws in every other window of time, at
its default refresh and on its own throttle (called every ``1 / max_fps`` seconds, as the
kernel's event loop calls it), and each window with the chart is set against the mean of the
windows on either side, so drift in the machine's load cancels out.

    python -m benchmarks.plot_cost FEED PORT PAIRS SECONDS [CHART]

Prints one JSON line: the push rate of each window in order (without the chart first, and
last), per window the main thread's CPU seconds spent redrawing, and the drawing share in
force after each redraw. The parent,
:mod:`benchmarks.__main__`, summarises them with :func:`summary`.

A window with the chart starts with a redraw (the throttle's wait has passed during the window
without), so its share of drawing is somewhat above the steady state's: the cost measured is,
if anything, too high.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

import nexusdata as nd
from nexusdata.widgets import DRAW_SHARE

from .measure import connection_options
from .stats import mean_and_margin


def measure(port: int, feed: str, pairs: int, seconds: float, chart_name: str | None = None) -> dict[str, Any]:
    """``2 * pairs + 1`` windows of ``seconds`` each over one handle, the chart (the feed's
    default, or ``chart_name``) redrawing in every second one, after a first window (not
    counted) in which the feed settles."""
    conn = connection_options(port, feed)
    handle = nd.live_depth("BTCUSDT", **conn) if feed == "depth" else nd.live_index("pair_index_v3", "1", **conn)
    rates: list[float] = []
    drawing: list[float] = []
    shares: list[float] = []  # the drawing share in force after each redraw counted
    with handle:
        chart = handle.plot(chart=chart_name)  # no event loop runs here: it redraws when refresh() is called
        pause = 1 / chart.max_fps
        for window in range(2 * pairs + 2):
            plotting = window % 2 == 0  # window 0 settles (chart on), then off, on, off, ...
            spent = 0.0
            start, pushes = time.perf_counter(), handle.feed.accepted
            end = start + seconds
            while (left := end - time.perf_counter()) > 0:
                time.sleep(min(pause, left))
                if plotting:
                    cpu = time.thread_time()
                    if chart.refresh() and window:
                        shares.append(chart.share)
                    spent += time.thread_time() - cpu
            if window:
                rates.append((handle.feed.accepted - pushes) / (time.perf_counter() - start))
                drawing.append(spent)
    return {"feed": feed, "chart": chart_name or feed, "seconds": seconds, "rates": rates, "drawing": drawing, "shares": shares}


def summary(result: dict[str, Any]) -> dict[str, float]:
    """The chart's cost (1 - the rate with it / the mean rate of the windows around) as a mean
    with its 95% confidence interval and the median, the share of the windows with the chart
    spent drawing, the redraws counted, a second and their mean CPU, how many of them found
    ingestion busy (the chart's ``draw_share`` in force), and the mean rate without it."""
    rates = result["rates"]
    costs = [1 - rates[i] / ((rates[i - 1] + rates[i + 1]) / 2) for i in range(1, len(rates) - 1, 2)]
    mean, margin = mean_and_margin(costs)
    return {
        "pairs": len(costs),
        "cost": mean,
        "low": mean - margin,
        "high": mean + margin,
        "median": statistics.median(costs),
        "drawing_share": sum(result["drawing"][1::2]) / (result["seconds"] * len(costs)),
        "redraws": len(result["shares"]),
        "redraws_per_second": len(result["shares"]) / (result["seconds"] * len(costs)),
        "cpu_per_redraw": sum(result["drawing"][1::2]) / max(len(result["shares"]), 1),
        "busy": sum(share == DRAW_SHARE for share in result["shares"]),
        "rate_without": statistics.fmean(rates[0::2]),
    }


def main() -> None:
    feed, port, pairs, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    print(json.dumps(measure(port, feed, pairs, seconds, sys.argv[5] if len(sys.argv) > 5 else None)))


if __name__ == "__main__":
    main()
