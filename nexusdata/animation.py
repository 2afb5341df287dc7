"""Frames of a live chart drawn by blitting: the figure's static parts (axes, tick labels,
legend, titles) are drawn once into a saved background; each frame restores it and draws only
the artists that change (book steps and fills, lines, bars) over it.

Only a change of the scene's layout key (new axis limits, a new set of pairs, the first push)
costs a full draw, with the layout recomputed. Text that changes with every push (the scene's
caption, the status line) is left to the page, which draws it sharper and for nothing: drawing
a line of text here costs about 0.2 ms a character. Frames are encoded as JPEG (a seventh of
PNG's time at this size; drawn at twice the display's resolution, its artefacts and halved
colour resolution fall within one CSS pixel). The picture kept at the end is a static chart of
the same rows, titles and status drawn in, as PNG. No ipywidgets here: :mod:`nexusdata.widgets`
shows the frames.
"""

from __future__ import annotations

import io
from collections.abc import Hashable

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from .errors import ArgumentError
from .heatmap import HEATMAP_CHART
from .plots import DEPTH_CHART, MUTED, PAIR_WEIGHTS_CHART, Chart, ChartFigure, Scene, png

DEVICE_PIXEL_RATIO = 2.0
"""Device pixels per CSS pixel a live chart is drawn for by default: sharp on a high-resolution
screen, and on a normal one (scaled down by the browser) no worse than drawn at 1."""

JPEG_QUALITY = 90
"""JPEG quality of a live frame."""

_UNSET = object()

CHARTS: dict[str, Chart] = {"depth": DEPTH_CHART, "heatmap": HEATMAP_CHART, "pair_weights": PAIR_WEIGHTS_CHART}
"""Every live chart by name; the first one of a table is that table's default."""


def chart_of(table: str, name: str | None = None) -> Chart:
    """The live chart ``name`` of ``table`` (its default if ``None``), or an
    :class:`~nexusdata.errors.ArgumentError` naming the charts there are."""
    charts = {n: c for n, c in CHARTS.items() if c.table == table}
    if name is None and charts:
        return next(iter(charts.values()))
    if name not in charts:
        raise ArgumentError(f"chart must be one of {', '.join(map(repr, charts))} for {table} data, got {name!r}")
    return charts[name]


class Animation:
    """One chart's frames: :meth:`draw` sets the scene from rows and draws it (in full when its
    layout key changed, else by blitting); :meth:`jpeg` encodes the frame and :meth:`picture`
    draws the picture to keep. ``full_draws`` counts the full draws, ``frames`` every frame.
    """

    def __init__(self, chart: Chart, *, device_pixel_ratio: float = DEVICE_PIXEL_RATIO) -> None:
        self.chart = chart
        self.device_pixel_ratio = device_pixel_ratio
        self.figure: ChartFigure = chart.figure(scale=device_pixel_ratio)
        self.scene: Scene = chart.scene(self.figure, True)
        self.canvas = FigureCanvasAgg(self.figure)
        self._key: Hashable = _UNSET
        self._background: object = None
        self.full_draws = 0
        self.frames = 0

    @property
    def caption(self) -> str:
        """What the newest push drawn shows, in words."""
        return self.scene.caption

    def draw(self, rows: pd.DataFrame, title: str | None, now: float) -> None:
        """Draw the frame of ``rows`` (the newest pushes, oldest first) at ``now`` (seconds on a
        monotonic clock: the scene's limits change with hysteresis over it)."""
        key = self.scene.update(rows, title, now)
        if key != self._key or self._background is None:
            self.canvas.draw()  # static parts, with the layout recomputed; animated artists are skipped
            self._background = self.canvas.copy_from_bbox(self.figure.bbox)
            self._key = key
            self.full_draws += 1
        else:
            self.canvas.restore_region(self._background)
        self.scene.paint(np.asarray(self.canvas.buffer_rgba()))
        for artist in self.scene.animated:
            self.figure.draw_artist(artist)
        self.frames += 1

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
