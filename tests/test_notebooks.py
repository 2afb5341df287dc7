"""The notebooks in notebooks/ run end to end under a real Jupyter kernel, so they never rot."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

EXPECTED: dict[str, list[str]] = {
    "01_quickstart.ipynb": [
        r"depth: [1-9]\d* rows from [1-9]\d* pushes",
        r"pair_index_v3: [1-9]\d* rows from [1-9]\d* pushes",
        r"live: connected, [1-9]\d* messages at [\d.]+/s, [1-9]\d* rows, (?:[2-9]|[1-9]\d+) chart redraws",
        r"live handles running: 1, connections open on the simulator: 1",
        r"✓ PASSED: nexus at ws://127\.0\.0\.1:\d+/api/realtime\?X-API-TOKEN=\*\*\* gave 3 push",
    ],
    "02_depth_study.ipynb": [r"depth study: [1-9]\d* pushes, mean spread \d+\.\d\d bps, mean top-5 imbalance [+-]\d\.\d{3}"],
    "03_index_study.ipynb": [
        r"enabled weights sum to 1\.000000\.\.1\.000000",
        r"index study: [1-9]\d* pushes, [1-9] pairs, dropped pair share \d+%",
    ],
}
"""Lines each notebook prints: what its cells computed, checked after a real run."""

PICTURES = {"01_quickstart.ipynb": 2, "02_depth_study.ipynb": 2, "03_index_study.ipynb": 2}
"""PNG images each notebook displays at least (its static charts)."""


def test_notebooks_are_stored_without_outputs() -> None:
    stored = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert stored == sorted(EXPECTED)
    for name in stored:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{name}: clear the outputs"


@pytest.fixture(scope="module")
def executed() -> dict[str, nbformat.NotebookNode | BaseException]:
    """Every notebook run by its own real ``python3`` kernel, all at once (they mostly wait for
    simulated data, so together they take about as long as the longest)."""

    async def run(name: str) -> nbformat.NotebookNode:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        client = NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}})
        await client.async_execute()  # raises CellExecutionError, with the cell and its traceback
        return nb

    async def run_all() -> list[nbformat.NotebookNode | BaseException]:
        return await asyncio.gather(*(run(name) for name in EXPECTED), return_exceptions=True)

    return dict(zip(EXPECTED, asyncio.run(run_all())))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_under_a_real_kernel(executed: dict[str, nbformat.NotebookNode | BaseException], name: str) -> None:
    nb = executed[name]
    if isinstance(nb, BaseException):
        raise nb
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stdout")
    for pattern in EXPECTED[name]:
        assert re.search(pattern, printed), f"{name} did not print {pattern!r}; it printed:\n{printed}"
    pictures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pictures) >= PICTURES[name]
