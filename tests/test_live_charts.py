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
import base64
import re
import struct
from dataclasses import dataclass, field
from typing import Any

import IPython.display
import numpy as np
import pytest
from waiting import wait_until

import nexusdata as nd
from nexusdata.heatmap import HeatmapScene
from nexusdata.plots import book_summary
from nexusdata.sim import Simulator
from nexusdata.widgets import Kept, LivePlot, LiveStatus

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@dataclass
class Kernel:
    """What a pretended kernel was asked to show: ``display`` calls (objects, keywords) and
    ``update_display`` calls (object, display id, keywords)."""

    displays: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    updates: list[tuple[Any, str, dict[str, Any]]] = field(default_factory=list)

    def display(self, *objects: Any, **options: Any) -> None:
        self.displays.append((objects, options))

    def update_display(self, obj: Any, *, display_id: str, **options: Any) -> None:
        self.updates.append((obj, display_id, options))

    def shown(self, kept: Kept, index: int = 0) -> str:
        """The display id of the ``index``-th display, checked to be ``kept``'s box (the widget
        beside its keeper, which knows the box)."""
        ((bundle,), options) = self.displays[index]
        assert options["raw"] is True and options["display_id"]
        assert kept.box is not None and kept.keeper is not None
        assert bundle[WIDGET_VIEW]["model_id"] == kept.box.model_id
        assert kept.box.children == (kept.widget, kept.keeper)
        assert kept.keeper.root == kept.box.model_id and kept.keeper.layout.display == "none"
        return str(options["display_id"])


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
    """By the display id (the page that ran the cell), and by the keeper beside the chart (a page
    reloaded since: tests/test_browser.py shows it there), with the same picture."""
    with nd.live_depth("BTCUSDT", **sim.nexus) as live:
        chart = live.plot(device_pixel_ratio=1.5)  # not the default: the picture must follow the option
        chart._ipython_display_()
        assert wait_until(lambda: live.feed.accepted > 0)
        assert not kernel.updates  # nothing replaced while it runs
    display_id = kernel.shown(chart._kept)
    keeper = chart._kept.keeper
    assert len(kernel.displays) == 1 and keeper is not None and not keeper.picture

    chart.finish()
    chart.finish()  # a second finish replaces nothing again
    assert len(kernel.updates) == 1
    data, updated, options = kernel.updates[0]
    assert updated == display_id and options["raw"] is True  # the output displayed, replaced in place
    css_width, css_height = chart.animation.chart.size
    assert png_size(base64.b64decode(data["image/png"])) == (round(1.5 * css_width), round(1.5 * css_height))
    assert options["metadata"] == {"image/png": {"width": css_width, "height": css_height}}  # drawn finer, shown at CSS size
    assert "stopped" in data["text/plain"]
    assert keeper.picture == {"data": data, "metadata": options["metadata"]}

    chart._ipython_display_()  # shown again once stopped: the picture itself, no widget
    assert kernel.displays[-1] == ((data,), {"metadata": options["metadata"], "raw": True})


def test_a_new_chart_of_a_handle_turns_the_previous_one_into_its_picture(
    sim: Simulator, kernel: Kernel, no_thread_leak: None
) -> None:
    """``live.plot()`` then ``live.plot(chart="heatmap")``: the first chart's output becomes its
    picture at once and it stops redrawing; the second runs until the handle stops."""

    async def in_the_kernels_loop() -> tuple[LivePlot, LivePlot]:
        with nd.live_depth("BTCUSDT", **sim.nexus) as live:
            first = live.plot()
            first._ipython_display_()
            second = live.plot(chart="heatmap")
            second._ipython_display_()
            assert first._task is not None and second._task is not None
            await asyncio.wait_for(first._task, timeout=10)  # ended, while the feed runs
            assert not live.feed.finished.is_set() and not second._task.done()
        await asyncio.wait_for(second._task, timeout=10)
        return first, second

    first, second = asyncio.run(in_the_kernels_loop())
    assert [update[1] for update in kernel.updates] == [kernel.shown(first._kept, 0), kernel.shown(second._kept, 1)]
    for chart, (data, _, _) in zip((first, second), kernel.updates):
        assert chart._kept.keeper is not None and chart._kept.keeper.picture["data"] == data
    assert "stopped" not in kernel.updates[0][0]["text/plain"] and "stopped" in kernel.updates[1][0]["text/plain"]


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
    display_id = kernel.shown(status._kept)
    keeper = status._kept.keeper
    assert len(kernel.displays) == 1 and keeper is not None
    assert len(kernel.updates) == 1
    data, updated, options = kernel.updates[0]
    assert updated == display_id and options == {"metadata": {}, "raw": True}
    assert "stopped" in data["text/html"] and data["text/html"] == status.value
    assert data["text/plain"].startswith("<LiveHandle BTCUSDT depth")
    assert keeper.picture == {"data": data, "metadata": {}}


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


def mids(chart: LivePlot) -> np.ndarray:
    """The mids the depth chart draws."""
    return np.asarray(chart.figure.axes[1].get_lines()[0].get_ydata())


def assert_mids_of(chart: LivePlot, live: nd.LiveHandle, symbol: str) -> None:
    """The chart's mids are those of every push of ``symbol`` up to its last frame, and nothing
    else (pushes may have arrived since)."""
    frame = live.frame()
    expected = book_summary(frame[frame["symbol"] == symbol])["mid"].to_numpy()
    drawn = mids(chart)
    assert 0 < len(drawn) <= len(expected) and np.allclose(drawn, expected[: len(drawn)])


def pushed(live: nd.LiveHandle, column: str, value: str) -> bool:
    return bool((live.frame()[column] == value).any())


def test_a_chart_draws_its_own_symbol_whatever_the_handle_subscribes(sim: Simulator, no_thread_leak: None) -> None:
    """Symbols at about 48,000 (BTC), 3,000 (ETH) and 5,500 (SOL): a chart's book and mids are of
    its symbol only, before and after subscribe and unsubscribe, and the heatmap takes a handle of
    several (it refused: "depth must hold one symbol")."""
    with nd.live_depth(["BTCUSDT", "ETHUSDT"], **sim.nexus) as live:
        with pytest.raises(
            nd.ArgumentError,
            match=r"symbol must name one of this handle's subscriptions \(BTCUSDT depth, ETHUSDT depth\), got 'XRPUSDT'",
        ):
            live.plot(symbol="XRPUSDT")
        with pytest.raises(nd.ArgumentError, match="pass symbol=, not id="):
            live.plot(id=1)
        eth = live.plot(symbol="ETHUSDT")
        live.subscribe("SOLUSDT")
        assert wait_until(lambda: pushed(live, "symbol", "SOLUSDT"))
        assert eth.refresh(force=True)
        live.unsubscribe("ETHUSDT")
        eth.refresh(force=True)  # what the kernel's loop does: the header follows the subscriptions
        assert "ETHUSDT depth unsubscribed" in eth.status
        assert eth.figure.axes[0].get_title() == "ETHUSDT order book around the mid"
        assert_mids_of(eth, live, "ETHUSDT")

        heatmap = live.plot(chart="heatmap")  # the first subscribed now: BTCUSDT (BTC and SOL arrive)
        assert wait_until(lambda: heatmap.refresh(force=True) and heatmap.animation.scene.colours is not None)
        assert heatmap.figure.axes[0].get_title() == "BTCUSDT order book heatmap"
        assert 40_000 < heatmap.figure.axes[0].get_ylim()[0] and "unsubscribed" not in heatmap.status

        live.unsubscribe("BTCUSDT")
        sol = live.plot()  # the one subscribed now
        assert sol.figure.axes[0].get_title() == "SOLUSDT order book around the mid"
        assert_mids_of(sol, live, "SOLUSDT")
        assert 4_000 < mids(sol).min() and mids(sol).max() < 7_000  # no BTC mid (48,000) on its axis
    live.unsubscribe("SOLUSDT")
    with pytest.raises(nd.ArgumentError, match="subscribed to nothing"):
        live.plot()


def test_a_pair_weights_chart_draws_its_own_id(sim: Simulator, no_thread_leak: None) -> None:
    with nd.live_index("pair_index_v3", [1, 2], **sim.chainext) as live:
        with pytest.raises(nd.ArgumentError, match="pass id=, not symbol="):
            live.plot(symbol="BTCUSDT")
        chart = live.plot(id=2)
        assert wait_until(lambda: pushed(live, "underlying_cid", "1") and pushed(live, "underlying_cid", "2"))
        assert wait_until(lambda: chart.refresh(force=True) and len(chart.figure.axes[1].get_lines()[0].get_ydata()) > 1)
    frame = live.frame()
    prices = frame[frame["underlying_cid"] == "2"].drop_duplicates("received_at")["price"]
    drawn = chart.figure.axes[1].get_lines()[0].get_ydata()
    assert np.allclose(drawn, prices.iloc[: len(drawn)]) and drawn.max() < 1_000  # id 2's index (150), not id 1's (3,000)
    assert "unsubscribed" not in chart.status
