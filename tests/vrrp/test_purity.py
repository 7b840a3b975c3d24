"""The core stays sans-I/O: no module in haipvs/vrrp imports I/O, clocks or randomness."""

from __future__ import annotations

import ast
from pathlib import Path

import haipvs.vrrp

FORBIDDEN = {
    "trio",
    "socket",
    "pyroute2",
    "time",
    "random",
    "asyncio",
    "threading",
    "select",
    "selectors",
    "os",
    "subprocess",
    "secrets",
    "datetime",
}
CORE_DIR = Path(haipvs.vrrp.__file__).parent


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


def test_the_scan_catches_forbidden_imports():
    tree = ast.parse("import time\nfrom trio import sleep\nimport os.path\n")
    assert _imported_roots(tree) & FORBIDDEN == {"time", "trio", "os"}
