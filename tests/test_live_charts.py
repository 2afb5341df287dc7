"""Live charts and live status as a Jupyter kernel shows them (``nexusdata.widgets``,
``LiveHandle.plot`` and ``LiveHandle._ipython_display_``): what is displayed, with which display
id, and the picture or HTML that replaces it once the feed stops; the live heatmap against the
simulator.

The kernel is pretended: ``nexusdata.progress.in_kernel`` answers True and IPython's ``display``
and ``update_display`` (imported by the widgets inside their functions, so patched on
``IPython.display``) record their calls. Layout, blitting and painting are in
test_chart_layout.py.
"""

from __future__ import annotations

import asyncio
import re
import struct
from dataclasses import dataclass, field
from typing import Any

import IPython.display
import pytest
from waiting import wait_until

import nexusdata as nd
from nexusdata.heatmap import HeatmapScene
from nexusdata.sim import Simulator
from nexusdata.widgets import LiveStatus

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@dataclass
class Kernel:
    """What a pretended kernel was asked to show: ``display`` calls (objects, keywords) and
    ``update_display`` calls (object, display id)."""

    displays: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    updates: list[tuple[Any, str]] = field(default_factory=list)

    def display(self, *objects: Any, **options: Any) -> None:
        self.displays.append((objects, options))

    def update_display(self, obj: Any, *, display_id: str, **options: Any) -> None:
        self.updates.append((obj, display_id))


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> Kernel:
    shown = Kernel()
    monkeypatch.setattr("nexusdata.progress.in_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", shown.display)
    monkeypatch.setattr(IPython.display, "update_display", shown.update_display)
    return shown


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's width and height in pixels, from its IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_a_displayed_chart_is_replaced_by_a_png_at_its_device_resolution_once_stopped(
    sim: Simulator, kernel: Kernel, no_thread_leak: None
) -> None:
    with nd.live_depth("BTCUSDT", **sim.nexus) as live:
        chart = live.plot(device_pixel_ratio=1.5)  # not the default: the picture must follow the option
        chart._ipython_display_()
        assert wait_until(lambda: live.feed.accepted > 0)
        assert not kernel.updates  # nothing replaced while it runs
    ((bundle,), options) = kernel.displays[0]
    assert len(kernel.displays) == 1
    assert options["raw"] is True and options["display_id"]
    assert bundle[WIDGET_VIEW]["model_id"] == chart.model_id  # the widget itself, by its model

    chart.finish()
    chart.finish()  # a second finish replaces nothing again
    assert len(kernel.updates) == 1
    picture, display_id = kernel.updates[0]
    assert display_id == options["display_id"]  # the output displayed, replaced in place
    assert isinstance(picture, IPython.display.Image)
    css_width, css_height = chart.animation.chart.size
    assert png_size(picture.data) == (round(1.5 * css_width), round(1.5 * css_height))
    assert (picture.width, picture.height) == (css_width, css_height)
    _, metadata = picture._repr_png_()  # what the notebook keeps: drawn finer, shown at the CSS size
    assert metadata == {"width": css_width, "height": css_height}


def test_a_live_handle_in_a_kernel_shows_a_status_that_follows_the_feed_then_is_kept_as_html(
    sim: Simulator, kernel: Kernel, monkeypatch: pytest.MonkeyPatch, no_thread_leak: None
) -> None:
    monkeypatch.setattr("nexusdata.widgets.STATUS_EVERY", 0.02)  # the status's own period, not a wait of the test

    async def in_the_kernels_loop() -> tuple[LiveStatus, str, str]:
        live = nd.live_depth("BTCUSDT", **sim.nexus)
        try:
            live._ipython_display_()
            status = live._status
            assert isinstance(status, LiveStatus) and status._task is not None  # updated from this loop
            first = status.value
            changed = asyncio.Event()
            status.observe(lambda change: changed.set(), "value")
            await asyncio.wait_for(changed.wait(), timeout=10)
            assert await wait_for_messages(status, more_than=messages(first))
            moved = status.value
        finally:
            live.stop()
        await asyncio.wait_for(status._task, timeout=10)  # it notices the stop and ends
        return status, first, moved

    status, first, moved = asyncio.run(in_the_kernels_loop())
    assert messages(moved) > messages(first)
    ((bundle,), options) = kernel.displays[0]
    assert len(kernel.displays) == 1 and options["raw"] is True
    assert bundle[WIDGET_VIEW]["model_id"] == status.model_id
    assert len(kernel.updates) == 1
    kept, display_id = kernel.updates[0]
    assert display_id == options["display_id"]
    assert isinstance(kept, IPython.display.HTML)
    assert "stopped" in kept.data and kept.data == status.value


def messages(status_html: str) -> int:
    """The message count a live handle's status table shows."""
    found = re.search(r"messages</th><td[^>]*>([\d,]+)<", status_html)
    assert found, status_html
    return int(found.group(1).replace(",", ""))


async def wait_for_messages(status: LiveStatus, more_than: int) -> bool:
    """Until the status shows more than ``more_than`` messages: polled on the loop (the status
    updates from it), at most 500 times 0.02 s."""
    for _ in range(500):
        if messages(status.value) > more_than:
            return True
        await asyncio.sleep(0.02)
    return False


def test_a_live_handle_outside_a_kernel_displays_text_and_html(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, no_thread_leak: None
) -> None:
    shown = Kernel()
    monkeypatch.setattr("nexusdata.progress.in_kernel", lambda: False)
    monkeypatch.setattr(IPython.display, "display", shown.display)
    with nd.live_depth("BTCUSDT", **sim.nexus) as live:
        live._ipython_display_()
    ((bundle,), options) = shown.displays[0]
    assert len(shown.displays) == 1 and options == {"raw": True}
    assert set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/plain"].startswith("<LiveHandle BTCUSDT")
    assert bundle["text/html"].startswith("<div><b>live BTCUSDT")
    assert live._status is None  # no widget, no task


def test_live_heatmap_redraws_as_pushes_arrive_with_its_colorbar_and_best_prices(sim: Simulator, no_thread_leak: None) -> None:
    with nd.live_depth("BTCUSDT", **sim.nexus) as live:
        chart = live.plot(chart="heatmap")
        assert isinstance(chart.animation.scene, HeatmapScene)
        buffer = live.feed.buffers[live.kind]
        for _ in range(2):  # two redraws, each of pushes that arrived after the last
            seen, frame, redraws = buffer.pushes, chart.image.value, chart.redraws
            assert wait_until(lambda seen=seen: buffer.pushes > seen)
            assert chart.refresh(force=True)
            assert chart.redraws == redraws + 1 and chart.image.value != frame
    chart.refresh(force=True)  # what arrived before the stop
    assert not chart.refresh(force=True)  # nothing new: no redraw
    (colorbar_ax,) = [ax for ax in chart.figure.axes if ax is not chart.animation.scene.ax]
    assert colorbar_ax.get_ylabel() == "resting volume"
    assert chart.animation.scene.artists.colorbar.ax is colorbar_ax
    assert chart.figure.axes[0].get_title() == "BTCUSDT order book heatmap"
    assert "best bid" in chart.status and "best ask" in chart.status
    assert chart.animation.caption in chart.status  # the caption, in the header
