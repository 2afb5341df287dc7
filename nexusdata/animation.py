"""Frames of a live chart drawn by blitting: the figure's static parts (axes, tick labels,
legend, titles) are drawn once into a saved background; each frame restores it and draws only
the artists that change (book steps and fills, lines, bars) over it.

Only a change of the scene's layout key costs a full draw: new axis limits redraw the static
parts in the same layout (unless their tick labels no longer fit); a new structure (the first
push, a new set of pairs) lays the figure out again, which costs as much again. Text that changes with every push (the scene's
caption, the status line) is left to the page, which draws it sharper and for nothing: drawing
a line of text here costs about 0.2 ms a character. Frames are encoded as JPEG (a seventh of
PNG's time at this size; drawn at twice the display's resolution, its artefacts and halved
colour resolution fall within one CSS pixel). The picture kept at the end is a static chart of
the same rows, titles and status drawn in, as PNG. No ipywidgets here: :mod:`nexusdata.widgets`
shows the frames.
"""

from __future__ import annotations

import importlib
import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from .charts import ChartEntry
from .plots import MUTED, PICTURE_SCALE, Chart, ChartFigure, Layout, Scene, png

DEVICE_PIXEL_RATIO = PICTURE_SCALE
"""Device pixels per CSS pixel a live chart is drawn for by default, as the static charts are."""

JPEG_QUALITY = 90
"""JPEG quality of a live frame."""

_UNSET = object()


def drawing(entry: ChartEntry) -> Chart:
    """The figure layout and scene of a chart of the registry (:data:`~nexusdata.charts.CHARTS`),
    its display module loaded."""
    chart: Chart = getattr(importlib.import_module(f"{__package__}.{entry.module}"), entry.drawing)
    return chart


class Animation:
    """One chart's frames: :meth:`draw` sets the scene from rows and draws it (in full when its
    layout key changed, else by blitting); :meth:`jpeg` encodes the frame and :meth:`picture`
    draws the picture to keep. ``frames`` counts the frames, ``full_draws`` those that redrew the static parts and
    ``layouts`` those that also laid the figure out again.
    """

    def __init__(self, chart: Chart, *, device_pixel_ratio: float = DEVICE_PIXEL_RATIO) -> None:
        self.chart = chart
        self.device_pixel_ratio = device_pixel_ratio
        self.figure: ChartFigure = chart.figure(scale=device_pixel_ratio)
        self.scene: Scene = chart.scene(self.figure, True)
        self.canvas = FigureCanvasAgg(self.figure)
        self._layout: Layout | None | object = _UNSET
        self._background: object = None
        self.full_draws = 0
        self.layouts = 0
        self.frames = 0

    @property
    def caption(self) -> str:
        """What the newest push drawn shows, in words."""
        return self.scene.caption

    def draw(self, rows: pd.DataFrame, title: str | None, now: float) -> None:
        """Draw the frame of ``rows`` (the newest pushes, oldest first) at ``now`` (seconds on a
        monotonic clock: the scene's limits change with hysteresis over it)."""
        layout = self.scene.update(rows, title, now)
        if layout != self._layout or self._background is None:
            relayout = not isinstance(self._layout, Layout) or layout is None or layout.structure != self._layout.structure
            self._draw_background(relayout)
            self._layout = layout
        else:
            self.canvas.restore_region(self._background)
        self.scene.paint(np.asarray(self.canvas.buffer_rgba()))
        for artist in self.scene.animated:
            self.figure.draw_artist(artist)
        self.frames += 1

    def _draw_background(self, relayout: bool) -> None:
        """Draw the static parts (animated artists are skipped) and save them. The layout is
        recomputed only for a new ``relayout`` structure (it is half a full draw's cost); new
        limits keep it, unless their tick labels no longer fit."""
        self.figure.set_layout_engine("constrained" if relayout else "none")
        self.canvas.draw()
        if not relayout and not self._ticks_fit():
            self.figure.set_layout_engine("constrained")
            self.canvas.draw()
            relayout = True
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)
        self.full_draws += 1
        self.layouts += relayout

    def _ticks_fit(self) -> bool:
        """Whether every tick label is inside the figure and clear of its axis's label."""
        renderer = self.canvas.get_renderer()
        figure = self.figure.bbox
        for ax in self.figure.axes:
            for axis in (ax.xaxis, ax.yaxis):
                label = axis.label.get_window_extent(renderer) if axis.label.get_visible() and axis.label.get_text() else None
                low, high = sorted(axis.get_view_interval())
                span = (high - low) * 1e-9
                for at, tick in zip(axis.get_majorticklocs(), axis.get_ticklabels()):
                    if not low - span <= at <= high + span or not tick.get_visible() or not tick.get_text():
                        continue  # the locator's ticks beyond the limits are not drawn
                    box = tick.get_window_extent(renderer)
                    inside = figure.x0 <= box.x0 and box.x1 <= figure.x1 and figure.y0 <= box.y0 and box.y1 <= figure.y1
                    if not inside or (label is not None and box.overlaps(label)):
                        return False
        return True

    def jpeg(self) -> bytes:
        """The frame as JPEG (the canvas's RGBA read as RGBX: no conversion pass)."""
        width, height = self.canvas.get_width_height(physical=True)
        image = Image.frombuffer("RGBX", (width, height), self.canvas.buffer_rgba(), "raw", "RGBX", 0, 1)
        buffer = io.BytesIO()
        image.save(buffer, format="jpeg", quality=JPEG_QUALITY)
        return buffer.getvalue()

    def picture(self, rows: pd.DataFrame, title: str | None, status: str = "", colour: str = MUTED) -> bytes:
        """A PNG to keep of ``rows``: the static chart (clock times, the caption in the titles)
        at this animation's resolution, with the status line above it."""
        fig = self.chart.figure(scale=self.device_pixel_ratio)
        self.chart.scene(fig, False).update(rows, title, 0.0)
        if status:
            fig.suptitle(f"● {status}", x=0.01, ha="left", fontsize="small", color=colour)
        return png(fig)
