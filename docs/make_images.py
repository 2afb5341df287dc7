"""Render the pictures of the charts in docs/notebooks.md, from the code itself.

Starts the embedded simulator, opens a live depth handle and a live ``pair_index_v3`` handle,
lets their live charts redraw themselves from an asyncio event loop (as in a Jupyter kernel) for
a few seconds, and writes the PNG each widget shows; then collects a few seconds of a deeper
book and draws its order-book heatmap:

    python docs/make_images.py          # writes docs/images/live_depth.png, live_pair_weights.png, depth_heatmap.png
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import nexusdata as nd
from nexusdata.plots import png
from nexusdata.sim import Simulator

IMAGES = Path(__file__).resolve().parent / "images"


async def render(seconds: float = 5.0) -> list[Path]:
    """Run both live charts for ``seconds`` and save what they show; returns the files written."""
    with Simulator(seed=0, rate=20) as sim:
        with nd.live_depth("BTCUSDT", **sim.nexus) as depth, nd.live_index("pair_index_v3", 1, **sim.chainext) as v3:
            charts = {"live_depth.png": depth.plot(dpi=100), "live_pair_weights.png": v3.plot(dpi=100)}
            await asyncio.sleep(seconds)  # the charts redraw from this loop while data flows
    IMAGES.mkdir(exist_ok=True)
    written = []
    for name, chart in charts.items():
        chart.refresh(force=True)  # everything that arrived before the stop
        path = IMAGES / name
        path.write_bytes(bytes(chart.image.value))
        print(f"{path}: {chart.redraws} redraws, {path.stat().st_size:,} bytes")
        written.append(path)
    return written


def render_heatmap(pushes: int = 400, depth: int = 20) -> Path:
    """The order-book heatmap of ``pushes`` pushes of a ``depth``-level book; returns the file written."""
    with Simulator(seed=0, rate=100) as sim:
        book = nd.stream_depth("BTCUSDT", seconds=60, depth=depth, max_messages=pushes, progress=False, **sim.nexus)
    IMAGES.mkdir(exist_ok=True)
    path = IMAGES / "depth_heatmap.png"
    path.write_bytes(png(nd.plot_depth_heatmap(book)))
    print(f"{path}: {book['received_at'].nunique()} pushes, {len(book):,} rows, {path.stat().st_size:,} bytes")
    return path


if __name__ == "__main__":
    asyncio.run(render())
    render_heatmap()
