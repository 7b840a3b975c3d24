"""haipvs: highly available LVS/IPVS directors (VRRP + IPVS + health checks)."""

__version__ = "0.1.0"

# Before anything imports pyroute2: its package __init__ loads the whole library
# (haipvs/pyroute2_lean.py).
from haipvs import lazy_stdlib as _lazy_stdlib
from haipvs import pyroute2_lean as _pyroute2_lean

# ssl loads on first use (haipvs/lazy_stdlib.py): trio and asyncio import it unconditionally.
_lazy_stdlib.install()
_pyroute2_lean.install()
