"""haipvs/ipvs is layered: a module imports only from layers below it (so there are no
cycles), the pure layers import no I/O module, and importing the model, the desired table
or the planner loads none of trio, pyroute2 or structlog."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "haipvs" / "ipvs"

# Lower never imports higher. Equal ranks may not import each other either.
RANK = {
    "model": 0, "errors": 0, "protocol": 0,
    "codec": 1,
    "ops": 2, "maglev": 2, "quorum": 2, "status": 2, "stats": 2, "vs_group": 2,
    "planner": 3, "backend": 3, "desired": 3, "flush": 3,
    "netlink": 4, "ownership": 4,
    "reconcile": 5,
}
PURE = ["model", "errors", "protocol", "codec", "ops", "planner", "flush", "backend", "status",
        "stats", "vs_group", "maglev"]
FORBIDDEN_IN_PURE = {"trio", "socket", "pyroute2", "structlog", "time", "threading", "os",
                     "subprocess"}


def imports(module: str) -> set[str]:
    """Top-level names this module imports (absolute, from any statement)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "haipvs.ipvs":
                names |= {f"haipvs.ipvs.{alias.name}" for alias in node.names}
    return names


def ipvs_imports(module: str) -> set[str]:
    return {name.split(".")[2] for name in imports(module)
            if name.startswith("haipvs.ipvs.")}


MODULES = sorted({path.stem for path in PACKAGE.glob("*.py")} - {"__init__"})


def test_every_module_has_a_layer():
    """A new module in haipvs/ipvs gets a place in RANK (and so in the layering)."""
    assert set(MODULES) <= set(RANK)


@pytest.mark.parametrize("module", MODULES)
def test_imports_go_only_to_lower_layers(module):
    upward = {name for name in ipvs_imports(module) if RANK.get(name, -1) >= RANK[module]}
    assert not upward, f"{module} (layer {RANK[module]}) imports {upward}"


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_no_io(module):
    used = {name.split(".")[0] for name in imports(module)}
    assert not used & FORBIDDEN_IN_PURE


def test_package_init_imports_nothing_eagerly():
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert {getattr(n, "module", None) or n.names[0].name for n in top} <= {
        "__future__", "haipvs.lazy_exports"}


@pytest.mark.parametrize("module", [
    "haipvs.ipvs", "haipvs.ipvs.model", "haipvs.ipvs.desired", "haipvs.ipvs.planner",
    "haipvs.ipvs.codec", "haipvs.ipvs.backend", "haipvs.ipvs.status", "haipvs.ipvs.stats",
])
def test_importing_loads_no_trio_pyroute2_or_structlog(module):
    code = (f"import sys, {module}; "
            "print(sorted(m for m in ('trio', 'pyroute2', 'structlog') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_lazy_reexports_resolve():
    import haipvs.ipvs as ipvs
    from haipvs.ipvs.planner import plan
    from haipvs.ipvs.reconcile import Reconciler

    assert ipvs.plan is plan and ipvs.Reconciler is Reconciler
    with pytest.raises(AttributeError):
        _ = ipvs.no_such_name
