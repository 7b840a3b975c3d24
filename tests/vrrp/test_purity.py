"""Pure modules stay sans-I/O: no sockets, clocks, randomness, threads or processes.

The VRRP core started it; every pure module (haipvs/vrrp/*, haipvs/policy/*, events, limits,
the pure IPVS layers, health spec/state) is held to it. The list is `PURE` in
tests/architecture/layers.py; imports anywhere in a file count, function-level ones too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import haipvs.vrrp
from tests.architecture import graph, layers

FORBIDDEN = layers.FORBIDDEN_IN_PURE - {"__import__"}
CORE_DIR = Path(haipvs.vrrp.__file__).parent

# Pure modules read the typed config (frozen data) besides other pure modules.
PURE_MAY_ALSO_IMPORT = {
    "haipvs.config.model": "the typed, frozen config model the rules read",
}


def _imported_roots(tree: ast.AST) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            roots.add("__import__")
    return roots


def _pure_modules() -> list[str]:
    return [name for name in graph.modules() if layers.matches(name, layers.PURE)]


def test_core_modules_import_no_io_clock_or_randomness():
    modules = sorted(CORE_DIR.glob("*.py"))
    assert {m.name for m in modules} >= {"packet.py", "validate.py", "state.py", "params.py"}
    offenders = {}
    for module in modules:
        bad = _imported_roots(ast.parse(module.read_text(), str(module))) & (
            FORBIDDEN | {"__import__"}
        )
        if bad:
            offenders[module.name] = sorted(bad)
    assert offenders == {}


def test_every_pure_module_imports_no_io_clock_or_randomness():
    pure = _pure_modules()
    # The list names real modules: each family is there (a rename would empty a pattern).
    for expected in ("haipvs.vrrp.state", "haipvs.policy.sync_group", "haipvs.events",
                     "haipvs.limits", "haipvs.ipvs.model", "haipvs.health.state"):
        assert expected in pure
    offenders = {}
    for name in pure:
        path = graph.modules()[name]
        bad = _imported_roots(ast.parse(path.read_text(), str(path))) & layers.FORBIDDEN_IN_PURE
        if bad:
            offenders[graph.module_path(name)] = sorted(bad)
    assert offenders == {}


def test_pure_modules_import_only_pure_modules_and_the_config_model():
    allowed = {**layers.PURE, **PURE_MAY_ALSO_IMPORT}
    offenders = sorted({
        f"{imp.where()}: {imp.source} imports {imp.target}"
        for name in _pure_modules()
        for imp in graph.imports_of(name)
        if imp.internal and not imp.type_checking and not layers.matches(imp.target, allowed)
    })
    assert not offenders, "\n".join(offenders)


def test_the_scan_catches_forbidden_imports():
    tree = ast.parse("import time\nfrom trio import sleep\nimport os.path\n")
    assert _imported_roots(tree) & FORBIDDEN == {"time", "trio", "os"}
