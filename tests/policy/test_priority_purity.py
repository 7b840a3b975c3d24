"""The VRRP-side policy modules (priority, sync_group) are pure: no I/O module, no clock,
and importing them loads none of trio, pyroute2 or structlog."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

POLICY = Path(__file__).resolve().parents[2] / "haipvs" / "policy"
MODULES = ["priority", "sync_group"]
FORBIDDEN = {"trio", "socket", "pyroute2", "structlog", "time", "threading", "os",
             "subprocess", "random", "asyncio"}


def imported(module: str) -> set[str]:
    tree = ast.parse((POLICY / f"{module}.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", MODULES)
def test_vrrp_policy_module_imports_no_io(module):
    assert not imported(module) & FORBIDDEN


@pytest.mark.parametrize("module", MODULES)
def test_importing_the_vrrp_policy_loads_no_trio_pyroute2_or_structlog(module):
    code = (f"import sys, haipvs.policy.{module}; "
            "print(sorted(m for m in ('trio', 'pyroute2', 'structlog') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
