"""The config package is light and acyclic: importing it loads no I/O framework (issue 13
acceptance 1), and its modules import each other in one direction only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import haipvs.config

CONFIG_DIR = Path(haipvs.config.__file__).parent
HEAVY = ("trio", "pyroute2", "structlog")


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)
    return set(result.stdout.split())


def test_importing_the_config_loads_no_io_framework():
    loaded = _loaded_after("import haipvs.config, haipvs.config.model, haipvs.config.schema")
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


def test_limits_loads_nothing_of_haipvs_but_itself():
    loaded = _loaded_after("import haipvs.limits")
    # the package's own __init__ installs the pyroute2 and lazy-stdlib import finders
    # (stdlib only)
    assert {m for m in loaded if m.startswith("haipvs")} == {
        "haipvs", "haipvs.pyroute2_lean", "haipvs.lazy_stdlib", "haipvs.limits"}


def _config_imports(path: Path) -> set[str]:
    """The haipvs.config modules `path` imports (package-relative names)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name.startswith("haipvs.config."):
                module = name.removeprefix("haipvs.config.").split(".")[0]
                if (CONFIG_DIR / f"{module}.py").exists():
                    out.add(module)
    return out


def test_no_import_cycles_inside_the_config_package():
    graph = {p.stem: _config_imports(p) - {p.stem} for p in CONFIG_DIR.glob("*.py")}
    assert "sections" in graph["loader"]  # the scan sees imports
    done: set[str] = set()

    def visit(module: str, stack: list[str]) -> None:
        assert module not in stack, f"import cycle: {' -> '.join([*stack, module])}"
        if module in done:
            return
        for child in sorted(graph.get(module, ())):
            visit(child, [*stack, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_files_stay_small():
    sizes = {p.name: len(p.read_text().splitlines()) for p in CONFIG_DIR.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 550} == {}
