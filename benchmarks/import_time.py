"""What ``import nexusdata`` costs on top of ``import pandas`` (which it needs anyway): each
measured in fresh processes, alternating, best of several rounds. The target is 0.15 s."""

from __future__ import annotations

import subprocess
import sys

_PROBE = "import time, {before}; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def seconds(module: str, before: str = "sys") -> float:
    """Seconds to import ``module`` in a fresh interpreter after ``before``."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(before=before, module=module)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return float(out.stdout)


def measure(rounds: int = 7) -> dict[str, float]:
    """Best of ``rounds``: ``pandas`` alone, ``nexusdata`` after pandas, and both from nothing."""
    best = {"pandas": float("inf"), "nexusdata_after_pandas": float("inf"), "both": float("inf")}
    for _ in range(rounds):
        best["pandas"] = min(best["pandas"], seconds("pandas"))
        best["nexusdata_after_pandas"] = min(best["nexusdata_after_pandas"], seconds("nexusdata", before="pandas"))
        best["both"] = min(best["both"], seconds("pandas, nexusdata"))
    return best


def main() -> None:
    best = measure()
    print(
        f"import pandas {best['pandas']:.3f} s; import nexusdata after it {best['nexusdata_after_pandas']:.3f} s;"
        f" both from nothing {best['both']:.3f} s, {best['both'] - best['pandas']:+.3f} s on pandas (target: +0.150 s at most)"
    )


if __name__ == "__main__":
    main()
