"""Issue 13's layering acceptance: no import cycles in haipvs/, trio/socket/pyroute2 only in
drivers and wiring, and the pure side importable without trio, pyroute2 or structlog.

The rules themselves (which module is allowed what) are in tests/architecture/layers.py.
"""

from __future__ import annotations

import ast
import json
import os
import pkgutil
import subprocess
import sys

import pytest

import haipvs
from tests.architecture import graph, layers
from tests.architecture.graph import Import


def test_no_import_cycles_among_module_level_imports():
    found = graph.cycles(graph.import_time_graph())
    assert not found, "import cycles (module-level imports, TYPE_CHECKING ones left out):\n" + (
        "\n\n".join(graph.describe_cycle(chain) for chain in found)
    )


def test_only_drivers_the_cli_and_the_daemon_wiring_import_trio_socket_or_pyroute2():
    offenders = sorted({
        f"{imp.where()}: {imp.source} imports {imp.target}"
        for imp in graph.all_imports()
        if imp.target in layers.IO_PACKAGES and not layers.matches(imp.source, layers.IO_ALLOWED)
    })
    assert not offenders, (
        "I/O imports outside the allow-list (move the I/O into a driver, or add the module to "
        "IO_ALLOWED in tests/architecture/layers.py with a reason):\n  " + "\n  ".join(offenders)
    )


def _light_modules() -> list[str]:
    names = []
    for pattern in layers.LIGHT:
        if pattern.endswith(".*"):
            package = pattern[:-2]
            path = [str(graph.modules()[package].parent)]
            names += [f"{package}.{info.name}" for info in pkgutil.iter_modules(path)]
        else:
            names.append(pattern)
    return names


# Runs in a fresh interpreter: records, for each heavy package, the chain of haipvs module
# bodies (and lazy __getattr__ calls) that were running when it was first imported.
_PROBE = """
import importlib, json, sys
heavy, target = set(sys.argv[1].split(",")), sys.argv[2]
chains = {}
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name in heavy and name not in chains:
            chain, frame = [], sys._getframe(1)
            while frame is not None:
                module = frame.f_globals.get("__name__", "")
                code = frame.f_code.co_name
                if module.startswith("haipvs") and (code == "<module>" or "getattr" in code):
                    chain.append(module if code == "<module>" else f"{module}.{code}")
                frame = frame.f_back
            chains[name] = chain[::-1]
        return None
sys.meta_path.insert(0, Spy())
importlib.import_module(target)
print(json.dumps({name: chains.get(name, []) for name in sorted(heavy) if name in sys.modules}))
"""


@pytest.mark.parametrize("module", _light_modules())
def test_pure_side_loads_no_trio_pyroute2_or_structlog(module):
    root = os.path.dirname(os.path.dirname(haipvs.__file__))
    env = {**os.environ, "PYTHONPATH": root}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, ",".join(layers.HEAVY), module],
        capture_output=True, text=True, cwd=root, env=env, check=False,
    )
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout.splitlines()[-1])
    assert not loaded, f"importing {module} loads " + "; ".join(
        f"{name} (via {' -> '.join(chain) or '?'})" for name, chain in loaded.items()
    )


# ---- the checks' own machinery --------------------------------------------------------


def _edge(source: str, target: str) -> Import:
    return Import(source, target, 1, at_import_time=True, type_checking=False)


def test_the_cycle_finder_reports_the_chain_that_closes_a_cycle():
    g = {
        "a": {"b": _edge("a", "b")},
        "b": {"c": _edge("b", "c")},
        "c": {"a": _edge("c", "a"), "d": _edge("c", "d")},
        "d": {},
    }
    [chain] = graph.cycles(g)
    assert [(imp.source, imp.target) for imp in chain] == [("a", "b"), ("b", "c"), ("c", "a")]
    assert graph.cycles({"a": {"b": _edge("a", "b")}, "b": {}}) == []


def test_type_checking_and_function_level_imports_are_told_apart():
    source = (
        "from typing import TYPE_CHECKING\n"
        "import haipvs.limits\n"
        "if TYPE_CHECKING:\n"
        "    from haipvs.vrrp.state import VrrpMachine\n"
        "else:\n"
        "    import haipvs.events\n"
        "def f():\n"
        "    import trio\n"
    )
    collector = graph._Collector("haipvs.vrrp.transitions")
    collector.visit(ast.parse(source))
    seen = {imp.target: (imp.at_import_time, imp.type_checking) for imp in collector.found}
    assert seen == {
        "typing": (True, False),
        "haipvs.limits": (True, False),
        "haipvs.vrrp.state": (True, True),
        "haipvs.events": (True, False),
        "trio": (False, False),
    }


def test_relative_and_from_package_imports_resolve_to_modules():
    collector = graph._Collector("haipvs.vrrp.state")
    collector.visit(ast.parse("from . import packet\nfrom .params import InstanceParams\n"
                              "from haipvs.vrrp import core\nfrom haipvs.vrrp.core import State\n"))
    assert [imp.target for imp in collector.found] == [
        "haipvs.vrrp.packet", "haipvs.vrrp.params", "haipvs.vrrp.core", "haipvs.vrrp.core",
    ]
