"""pyroute2 without its package __init__: a director loads only the rtnetlink parts it uses.

pyroute2 0.9.7's `pyroute2/__init__.py` imports every public class of the library: IPDB and
NDB (with sqlite3), conntrack, nftables, ethtool, devlink, wireguard, plan9, ... About 6 MiB
of RSS that a director never uses (issue 18: import only what a config uses). haipvs needs
IPRoute, NetlinkError and a few constants, all in submodules.

install() adds an import finder: the first `import pyroute2` creates the package module
without running its __init__. A name the package would export is then found on first use,
cheapest first:
1. the few classes haipvs and pyroute2 itself import from the package (LEAN);
2. a submodule of that name (`from pyroute2 import config` inside pyroute2);
3. anything else (NDB, `__version__`, ...) runs the real __init__ in the same module
   object, so code that wants the whole library (tests, tools) still gets it.
Stdlib only: haipvs/__init__.py calls install() before anything can import pyroute2.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any

PACKAGE = "pyroute2"
# name -> the submodule defining it (pyroute2 0.9.7; iprsocket.py imports IPRSocket and
# AsyncIPRSocket back from the package at run time)
LEAN = {
    "IPRoute": "pyroute2.iproute.linux",
    "AsyncIPRoute": "pyroute2.iproute.linux",
    "IPRSocket": "pyroute2.netlink.rtnl.iprsocket",
    "AsyncIPRSocket": "pyroute2.netlink.rtnl.iprsocket",
    "NetlinkError": "pyroute2.netlink.exceptions",
}


def install() -> None:
    """Idempotent. Nothing is imported here: the first `import pyroute2` (if any) gets the
    lean package, so a process that never uses pyroute2 (haipvs check) never loads it."""
    if PACKAGE in sys.modules or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())


# Plain classes, not importlib.abc's: in Python 3.11 importing importlib.abc imports
# importlib.resources, and with it tempfile, shutil, bz2, lzma and random (~1 MiB).
class _Finder:
    """Answers the package's first import only, then steps aside."""

    def find_spec(self, name: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        if name != PACKAGE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(PACKAGE)  # the real one, from the other finders
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _LeanLoader(spec)
        return spec

    def invalidate_caches(self) -> None:
        pass


class _LeanLoader:
    """Creates the package module as usual but runs no __init__: names resolve lazily."""

    def __init__(self, spec: importlib.machinery.ModuleSpec) -> None:
        assert spec.loader is not None
        self.real = spec.loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        module.__dict__["__getattr__"] = _Resolver(module, self.real)


class _Resolver:
    """The package's module __getattr__ (PEP 562): called only for a name not set yet."""

    def __init__(self, module: ModuleType, real: Any) -> None:
        self.module = module
        self.real = real
        self.full = False

    def __call__(self, name: str) -> object:
        if name in LEAN:
            # iproute first, in the real __init__'s order: importing iprsocket first runs
            # into a cycle back through the package
            importlib.import_module("pyroute2.iproute.linux")
            return getattr(importlib.import_module(LEAN[name]), name)
        if not name.startswith("__") and self._is_submodule(name):
            return importlib.import_module(f"{PACKAGE}.{name}")  # also sets the attribute
        if not self.full:
            self.full = True
            self.real.exec_module(self.module)  # the real __init__, once
            if name in self.module.__dict__:
                return self.module.__dict__[name]
        raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}")

    def _is_submodule(self, name: str) -> bool:
        try:
            return importlib.util.find_spec(f"{PACKAGE}.{name}") is not None
        except (ImportError, ValueError):
            return False
