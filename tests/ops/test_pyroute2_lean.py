"""haipvs/pyroute2_lean.py: the daemon loads pyroute2's rtnetlink parts only (issue 18,
"import only what a config uses"), and the rest of the library still resolves on demand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_the_daemon_does_not_load_ndb_ipdb_or_sqlite():
    loaded = run("""
import json, sys
import haipvs.daemon
from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
with IPRoute() as ipr:
    links = len(ipr.get_links())  # this process's own namespace: a read, no traffic
print(json.dumps({"links": links, "modules": sorted(m for m in sys.modules
      if m.split(".")[0] == "sqlite3" or m.startswith(("pyroute2.ndb", "pyroute2.ipdb",
                                                        "pyroute2.conntrack")))}))
""")
    assert loaded["links"] >= 1  # lo at least
    assert loaded["modules"] == []


def test_check_does_not_import_pyroute2_at_all():
    assert run("""
import json, sys
import haipvs, haipvs.config
print(json.dumps({"pyroute2": "pyroute2" in sys.modules}))
""") == {"pyroute2": False}


def test_every_public_name_still_resolves():
    # tests and tools use the whole library: the real __init__ runs on the first name the
    # lean package does not have
    got = run("""
import json
import haipvs
import pyroute2
from pyroute2 import config, IPRSocket
from pyroute2 import NDB, IPVS
print(json.dumps({"version": pyroute2.__version__, "ndb": NDB.__name__, "ipvs": IPVS.__name__,
                  "config": config.__name__, "iprsocket": IPRSocket.__module__}))
""")
    assert got == {"version": got["version"], "ndb": "NDB", "ipvs": "IPVS",
                   "config": "pyroute2.config", "iprsocket": "pyroute2.netlink.rtnl.iprsocket"}
    assert got["version"].startswith("0.9")
