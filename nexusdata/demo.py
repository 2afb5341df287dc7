"""``nexusdata demo``: the whole path against the embedded simulator, no account, no network.

Starts the simulator on loopback, runs the four collectors side by side for a few seconds,
prints a short summary of each DataFrame and writes them as Parquet plus two PNG charts.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from .collectors import collect_index, collect_orders, collect_risk, stream_depth
from .plots import PICTURE_SCALE, book_summary, plot_depth, plot_pair_weights, png
from .sim import Simulator


def summarise(name: str, df: pd.DataFrame) -> str:
    """A few lines about a collected DataFrame: size, pushes, time span, a glimpse of rows."""
    meta = df.attrs.get("nexusdata", {})
    span = (df["received_at"].max() - df["received_at"].min()).total_seconds() if len(df) else 0.0
    lines = [
        f"== {name}: {len(df)} rows x {df.shape[1]} columns from {meta.get('messages', 0)} pushes"
        f" over {span:.1f}s (connections: {meta.get('connection', 0)}, malformed: {meta.get('malformed', 0)})",
        "   columns: " + ", ".join(f"{c}:{t}" for c, t in df.dtypes.astype(str).items()),
    ]
    with pd.option_context("display.width", 160, "display.max_columns", 12):
        lines.append(df.drop(columns=["received_at", "connection"]).head(4).to_string(max_colwidth=22))
    return "\n".join(lines)


def run_demo(
    out: Path | str = "nexusdata-demo", seconds: float = 3.0, seed: int = 0, echo: Callable[[str], None] = print
) -> dict[str, Path]:
    """Run the demo; returns the files written (name → path)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with Simulator(seed=seed, rate=20.0) as sim:
        echo(
            f"simulator on {sim.nexus_url} (Nexus) and {sim.chainext_url} (ChaiNext);"
            f" four collectors side by side for {seconds:g}s ..."
        )
        jobs = {
            "depth": lambda: stream_depth("BTCUSDT", seconds=seconds, depth=5, progress=False, **sim.nexus),
            "pair_index_v3": lambda: collect_index("pair_index_v3", "1", seconds=seconds, progress=False, **sim.chainext),
            "orders": lambda: collect_orders(seconds=seconds, progress=False, **sim.nexus),
            "risk": lambda: collect_risk("BTCUSDT", "A", seconds=seconds, progress=False, **sim.nexus),
        }
        with ThreadPoolExecutor(len(jobs)) as pool:
            futures = {name: pool.submit(job) for name, job in jobs.items()}
            frames = {name: f.result() for name, f in futures.items()}
    files: dict[str, Path] = {}
    for name, df in frames.items():
        echo(summarise(name, df))
        files[name] = out / f"{name}.parquet"
        df.to_parquet(files[name], index=False)
    last = book_summary(frames["depth"]).iloc[-1]
    echo(f"BTCUSDT last mid {last['mid']:.2f}, spread {last['spread']:.2f}")
    for name, fig in (
        ("depth_chart", plot_depth(frames["depth"])),
        ("pair_weights_chart", plot_pair_weights(frames["pair_index_v3"])),
    ):
        files[name] = out / f"{name}.png"
        files[name].write_bytes(png(fig, scale=PICTURE_SCALE))  # as Jupyter shows it: sharp on any screen
    echo("wrote " + ", ".join(str(p) for p in files.values()))
    return files
