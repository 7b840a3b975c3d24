"""Standard modules that are imported everywhere but used only by some configs load on first
use (issue 18: import only what a config uses).

`ssl` costs about 5 MiB of RSS (the module, `_ssl`, and libcrypto's pages), yet trio imports it
unconditionally (trio/_ssl.py), and so do asyncio (asyncio/sslproto.py, through base_events)
and pyroute2 (netlink/rtnl/probe_msg.py). Only an SSL_GET checker or a TLS SMTP alert uses it.
hashlib and hmac map libcrypto too (`_hashlib`), for an HTTP_GET digest or a PASS password.
install() makes `import ssl` (and the others in LAZY) create the module without running its
body; the body runs in that module object on the first attribute lookup (the module's PEP 562
__getattr__), so an idle director never runs it and code that uses it sees the whole module,
as before. asyncio.sslproto is lazy too because its body reads `ssl.SSLWantReadError` at
import time. importlib.util.LazyLoader does not do here: every later `import ssl` statement
reads the module's __spec__ (import.c, import_ensure_initialized), and any attribute read
loads a LazyLoader module; asyncio.selector_events' own `import ssl` did.

A lazy package's submodule is imported without running the package's body: pyroute2's
iprsocket.py does `from unittest import mock` (for a mock class attribute), and unittest's
__init__ loads the whole test framework (case, loader, runner, ...; ~0.5 MiB).

difflib (the config's "did you mean" for a misspelt key), getpass (an SMTP alert's default
sender) and uuid (structlog.threadlocal, deprecated and unused) are read only inside
functions too (~0.3 MiB with _uuid).

bz2 and lzma (with _bz2, _lzma, libbz2 and liblzma) are imported by shutil only to learn
whether it could write such archives; tempfile by ctypes.util (trio finds libpthread with it
at import) for a fallback that runs gcc; shlex by the config's script commands, which an idle
config lacks (~0.5 MiB in all, bench/memory.py --servers 0). Not textwrap: sortedcontainers
(under trio) reads textwrap.dedent at import.

pyroute2.netlink's package body (the netlink message machinery, ~0.3 MiB) runs only with
pyroute2's IPRoute: an idle director's VIP driver (drivers/rtnl_socket.py) needs only
NetlinkError from its `exceptions` submodule.

The same goes for two dependencies' modules that an idle director never runs: pyroute2's tc
modules (pyroute2/netlink/rtnl/tcmsg/__init__.py imports every qdisc, class and action
module, ~0.5 MiB, and iproute.linux imports that package; haipvs never sends a tc request)
and idna (trio/_socket.py imports it to encode a non-ASCII host name, ~0.2 MiB). The tc
modules are matched by their package prefix, not listed, so a pyroute2 release that adds
one makes it lazy too; tests/ops/test_lazy_stdlib.py fails if the prefix matches nothing.

A lock makes the first lookup from two threads run the body once; the other thread waits
for it.

Stdlib only: haipvs/__init__.py calls install() before trio, asyncio or pyroute2 load.
"""

from __future__ import annotations

import _thread
import importlib.util
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

LAZY = frozenset({"ssl", "asyncio.sslproto", "hashlib", "hmac", "unittest", "idna", "difflib",
                  "getpass", "uuid", "bz2", "lzma", "tempfile", "shlex",
                  "pyroute2.netlink"})
# every submodule of these packages (the package itself runs: it defines the tc message)
LAZY_UNDER = ("pyroute2.netlink.rtnl.tcmsg.",)


def is_lazy(name: str) -> bool:
    return name in LAZY or name.startswith(LAZY_UNDER)


def install() -> None:
    """Idempotent. A module already imported (say, by a test runner) stays as it is."""
    if any(isinstance(finder, _Finder) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())


def executed(name: str) -> bool:
    """True once the module's body has run (a lazy module not used yet is in sys.modules
    already, with only the import system's attributes)."""
    module = sys.modules.get(name)
    return module is not None and not isinstance(module.__dict__.get("__getattr__"), _Body)


class _Finder:
    """A meta path finder (PEP 451) for the lazy names only; every other import, and these
    modules' own submodules, go to the finders after it."""

    def __init__(self) -> None:
        self._busy: set[str] = set()

    def find_spec(self, name: str, path: object = None,
                  target: object = None) -> ModuleSpec | None:
        if not is_lazy(name) or name in self._busy:
            return None
        self._busy.add(name)  # find_spec below asks the meta path again, us included
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._busy.discard(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _LazyBodyLoader(spec.loader)
        return spec

    def invalidate_caches(self) -> None:
        pass


class _LazyBodyLoader:
    """Creates the module as its real loader would, and defers the body to _Body."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.real.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # the real loader runs the body later, and later imports see it as the loader
        module.__spec__.loader = self.real
        module.__loader__ = self.real
        module.__dict__["__getattr__"] = _Body(module, self.real)


class _Body:
    """The lazy module's __getattr__: called only for a name its __dict__ lacks."""

    def __init__(self, module: ModuleType, real: Any) -> None:
        self.module = module
        self.real = real
        self.lock = _thread.RLock()
        self.ran = False

    def __call__(self, name: str) -> Any:
        with self.lock:
            if not self.ran and self._is_submodule(name):
                # the import sets it as an attribute: later lookups do not come here
                return importlib.import_module(f"{self.module.__name__}.{name}")
            if not self.ran:
                self.ran = True
                try:
                    self.real.exec_module(self.module)
                finally:
                    if self.module.__dict__.get("__getattr__") is self:
                        del self.module.__dict__["__getattr__"]
        try:
            return self.module.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {self.module.__name__!r} has no attribute {name!r}"
                                 ) from None

    def _is_submodule(self, name: str) -> bool:
        if name.startswith("__") or "__path__" not in self.module.__dict__:
            return False
        try:
            return importlib.util.find_spec(f"{self.module.__name__}.{name}") is not None
        except (ImportError, ValueError):
            return False
