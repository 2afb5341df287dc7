"""The registry of charts (nexusdata/charts.py) and what it names agree: every entry's drawing and
static function exist where it says, draw its kind's table, and are what live handles, collectors
and the package offer."""

from __future__ import annotations

import importlib

import pytest

import nexusdata as nd
from nexusdata.animation import drawing
from nexusdata.charts import CHARTS, PLOTS, chart_of, charted_kinds, charts_of
from nexusdata.kinds import KINDS
from nexusdata.plots import Chart, Scene


@pytest.mark.parametrize("name", CHARTS)
def test_every_entry_names_a_drawing_of_its_kind_and_a_public_static_function(name: str) -> None:
    entry = CHARTS[name]
    assert entry.kind in KINDS and KINDS[entry.kind].chart
    chart = drawing(entry)
    assert isinstance(chart, Chart) and chart.table == KINDS[entry.kind].table.name
    assert isinstance(chart.scene, type) and issubclass(chart.scene, Scene)
    module = importlib.import_module(f"nexusdata.{entry.module}")
    assert getattr(nd, entry.plot) is getattr(module, entry.plot)  # found through the registry
    assert entry.plot in nd.__all__ and entry.plot in dir(nd) and PLOTS[entry.plot] is entry


def test_a_kind_is_charted_exactly_when_an_entry_draws_it() -> None:
    charted = {name for name, kind in KINDS.items() if kind.chart}
    assert charted == {entry.kind for entry in CHARTS.values()}
    assert charted_kinds() == "depth and pair_index_v3"
    assert [entry.name for entry in charts_of("depth")] == ["depth", "heatmap"]
    assert charts_of("orders") == []


def test_the_first_chart_of_a_kind_is_its_default_and_others_are_refused() -> None:
    assert chart_of("depth") is CHARTS["depth"] and chart_of("pair_index_v3") is CHARTS["pair_weights"]
    assert chart_of("depth", "heatmap") is CHARTS["heatmap"]
    with pytest.raises(nd.ArgumentError, match="chart must be one of 'pair_weights' for pair_index_v3 data, got 'heatmap'"):
        chart_of("pair_index_v3", "heatmap")
    with pytest.raises(nd.ArgumentError, match="live charts draw depth and pair_index_v3 data only, not orders"):
        chart_of("orders")
