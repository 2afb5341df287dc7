"""The one statistic the benchmarks report for paired measurements."""

from __future__ import annotations

import math
import statistics


def mean_and_margin(values: list[float]) -> tuple[float, float]:
    """The mean of ``values`` and the half-width of its 95% confidence interval (normal
    approximation; infinite for a single value)."""
    margin = 1.96 * statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else math.inf
    return statistics.fmean(values), margin
