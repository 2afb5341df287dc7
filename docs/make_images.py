"""Render the pictures of the charts in docs/notebooks.md, from the code itself.

Starts the embedded simulator, opens a live depth handle with its live order-book heatmap, lets
the chart redraw itself from an asyncio event loop (as in a Jupyter kernel) for a few seconds and
writes the frame the widget shows (a JPEG, as sent to the page); then collects a few seconds of a
deeper book and draws its static order-book heatmap. The pictures of the other live charts, in
JupyterLab, come from the browser test (``NEXUSDATA_SCREENSHOTS=docs/images pytest -m browser``):

    python docs/make_images.py          # writes docs/images/live_heatmap.jpg, depth_heatmap.png
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import nexusdata as nd
from nexusdata.plots import png
from nexusdata.sim import Simulator

IMAGES = Path(__file__).resolve().parent / "images"


async def render(seconds: float = 8.0) -> Path:
    """Run the live heatmap of a 20-level book for ``seconds`` and save its last frame."""
    with Simulator(seed=0, rate=20) as sim:
        with nd.live_depth("BTCUSDT", depth=20, **sim.nexus) as depth:
            chart = depth.plot(chart="heatmap")
            await asyncio.sleep(seconds)  # the chart redraws from this loop while data flows
    chart.refresh(force=True)  # everything that arrived before the stop
    IMAGES.mkdir(exist_ok=True)
    path = IMAGES / "live_heatmap.jpg"
    path.write_bytes(bytes(chart.image.value))
    print(f"{path}: {chart.redraws} frames, {chart.animation.full_draws} full, {path.stat().st_size:,} bytes")
    return path


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
