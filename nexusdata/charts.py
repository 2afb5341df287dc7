"""The registry of charts: each chart a user can name, the kind of data it draws, and where its
drawing lives. ``live.plot(chart=...)``, a collector's ``plot=True``, the kinds (whether a live
chart draws one) and the package's static chart functions (``nd.plot_depth``, ...) all read
:data:`CHARTS`, so a new chart is its drawing in a display module and one entry here
(docs/architecture.md, "Adding a chart").

An entry names its drawing rather than importing it: the display modules load matplotlib, which
``import nexusdata`` does not, and they sit in a layer above the kinds, which read this registry.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ArgumentError


@dataclass(frozen=True)
class ChartEntry:
    """One chart users can name."""

    name: str
    """What ``live.plot(chart=...)`` takes."""
    kind: str
    """The subscription kind whose rows it draws (its table's name)."""
    module: str
    """The display module (in ``nexusdata``) that draws it, loaded when the chart is first drawn."""
    drawing: str
    """The name of its :class:`~nexusdata.plots.Chart` there: the figure's layout and the
    :class:`~nexusdata.plots.Scene` class that draws on it, live and static alike."""
    plot: str
    """The name of its static function there (a figure of a whole DataFrame), exported by the
    package as ``nexusdata.<plot>``."""


CHARTS: dict[str, ChartEntry] = {
    entry.name: entry
    for entry in (
        ChartEntry("depth", "depth", "plots", "DEPTH_CHART", "plot_depth"),
        ChartEntry("heatmap", "depth", "heatmap", "HEATMAP_CHART", "plot_depth_heatmap"),
        ChartEntry("pair_weights", "pair_index_v3", "plots", "PAIR_WEIGHTS_CHART", "plot_pair_weights"),
    )
}
"""Every chart by name; the first one of a kind is that kind's default."""

PLOTS: dict[str, ChartEntry] = {entry.plot: entry for entry in CHARTS.values()}
"""The charts by the name of their static function (``plot_depth``, ...)."""


def charts_of(kind: str) -> list[ChartEntry]:
    """The charts of ``kind``'s data, its default first (none for a kind no chart draws)."""
    return [entry for entry in CHARTS.values() if entry.kind == kind]


def chart_of(kind: str, name: str | None = None) -> ChartEntry:
    """The chart ``name`` of ``kind``'s data (its default if ``None``), or an
    :class:`~nexusdata.errors.ArgumentError` naming the charts there are."""
    charts = {entry.name: entry for entry in charts_of(kind)}
    if not charts:
        raise ArgumentError(f"live charts draw {charted_kinds()} data only, not {kind}")
    if name is None:
        return next(iter(charts.values()))
    if name not in charts:
        raise ArgumentError(f"chart must be one of {', '.join(map(repr, charts))} for {kind} data, got {name!r}")
    return charts[name]


def charted_kinds() -> str:
    """The kinds a live chart draws, in words (``depth and pair_index_v3``), for messages."""
    kinds = list(dict.fromkeys(entry.kind for entry in CHARTS.values()))
    return " and ".join(filter(None, (", ".join(kinds[:-1]), kinds[-1])))
