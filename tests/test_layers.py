"""The layers of docs/architecture.md hold: every import of the package (at the top of a module,
inside a function or for type checking only) goes to the same layer or one listed above it in
the architecture's table, and no modules import each other in a cycle. Read from the source's
syntax tree, so nothing is imported to check it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nexusdata"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def layers() -> list[tuple[str, list[str]]]:
    """The architecture table's layers in order (the first is the lowest) with their paths."""
    rows = re.findall(r"^\| (\w[\w ]*?) \| ((?:`[^`]+`,? ?)+) \|", ARCHITECTURE.read_text(encoding="utf-8"), re.M)
    return [(name, re.findall(r"`([^`]+)`", where)) for name, where in rows]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str, table: list[tuple[str, list[str]]]) -> int:
    """The index of the layer whose paths hold ``module`` (the longest matching path wins)."""
    path = MODULES[module].relative_to(ROOT).as_posix()
    matches = [
        (len(p), i) for i, (_, paths) in enumerate(table) for p in paths if path == p or (p.endswith("/") and path.startswith(p))
    ]
    assert matches, f"{path} is in no layer of docs/architecture.md"
    return max(matches)[1]


def imports(module: str) -> set[str]:
    """The package's modules ``module`` imports, anywhere in it."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        found.update(n for n in names if n in MODULES and n != module)
    return found


def test_every_module_is_in_one_layer_and_imports_only_layers_below_or_its_own() -> None:
    table = layers()
    assert [name for name, _ in table][:3] == ["errors", "protocol", "config"] and len(table) >= 8
    wrong = [
        f"{module} ({table[layer_of(module, table)][0]}) imports {target} ({table[layer_of(target, table)][0]})"
        for module in MODULES
        for target in sorted(imports(module))
        if layer_of(target, table) > layer_of(module, table)
    ]
    assert not wrong, "imports against the layer order of docs/architecture.md:\n" + "\n".join(wrong)


def test_no_modules_import_each_other_in_a_cycle() -> None:
    graph = TopologicalSorter({module: imports(module) for module in MODULES})
    try:
        graph.prepare()
    except CycleError as cycle:
        pytest.fail(f"import cycle: {' -> '.join(cycle.args[1])}")


def test_the_checks_see_an_import_against_the_layers_and_a_cycle() -> None:
    """The checks are not vacuous: the parser finds the imports that matter."""
    assert "nexusdata.feed" in imports("nexusdata.collectors")  # a top-level relative import
    assert "nexusdata.widgets" in imports("nexusdata.collectors")  # one inside a function
    assert "nexusdata.sim.server" in imports("nexusdata.sim")  # one inside a module __getattr__
    table = layers()
    assert (
        layer_of("nexusdata.sim.server", table)
        > layer_of("nexusdata.collectors", table)
        > layer_of("nexusdata.protocol.nexus", table)
    )


SERVICE_LAYERS = ("nexusdata.protocol", "nexusdata.sim")
"""Where a service may be named in code: its protocol, the registry of services, the simulator."""


def service_names(module: str) -> list[str]:
    """Where ``module`` names a service in its code (``"nexus"``, ``"chainext"``, as a string of its
    own): a branch on the service, a table keyed by it. The registry of kinds' entries
    (``Kind("depth", "nexus", ...)``) are the one place above the protocol layer allowed to."""
    from nexusdata.protocol import SERVICES

    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    allowed = {
        id(arg)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Kind"
        for arg in node.args
    }
    return [
        f"{module}:{node.lineno} {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in SERVICES and id(node) not in allowed
    ]


def test_no_service_is_named_above_the_protocol_layer_outside_the_registry() -> None:
    """A new service is a protocol module and registry entries (docs/architecture.md, "Adding a
    service"): no module above the protocol layer branches on a service's name."""
    named = [place for module in MODULES if not module.startswith(SERVICE_LAYERS) for place in service_names(module)]
    assert not named, "services named above the protocol layer:\n" + "\n".join(named)
    assert service_names("nexusdata.protocol.services")  # the check sees a name where there is one


def test_import_nexusdata_loads_neither_the_simulator_nor_the_charts() -> None:
    """``import nexusdata`` stays light (benchmarks/import_time.py measures it): the simulator's
    server, matplotlib and ipywidgets load when first used. ``dir(nexusdata)`` (what tab
    completion offers) lists every public name all the same, those loaded on first use too."""
    heavy = ("matplotlib", "ipywidgets", "websockets", "nexusdata.sim.server", "nexusdata.plots", "IPython")
    probe = (
        "import sys, nexusdata; listed = sorted(set(nexusdata.__all__) - set(dir(nexusdata)));"
        f" print([m for m in {heavy!r} if m in sys.modules], listed)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[] []"  # nothing heavy loaded, and no public name missing from dir()
    used = "import sys, nexusdata as nd; nd.plot_depth; from nexusdata.sim import Simulator; print('matplotlib' in sys.modules, 'websockets' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", used], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "True True"
