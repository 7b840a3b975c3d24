"""haipvs/lazy_stdlib.py and the CLI's lazy subcommand parsers: an idle director runs neither
ssl nor hashlib/hmac (OpenSSL's libcrypto, ~5 MiB of RSS with _ssl; issue 18, "import only
what a config uses") nor unittest's test framework (pyroute2 imports unittest.mock), nor
pyroute2's tc modules or idna, yet whoever uses them gets the whole module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_the_daemon_runs_no_tls_or_hash_module_and_no_other_subcommand():
    # what `haipvs --config FILE` imports before it reads the config, and the netlink parts
    got = run("""
import json, sys
from haipvs.cli import build_parser
args = build_parser(lazy=True).parse_args(["--config", "/dev/null"])
import haipvs.daemon
from haipvs.drivers.rtnl_socket import RtnlSocket
from haipvs import lazy_stdlib
tc = [n for n in sys.modules if n.startswith(lazy_stdlib.LAZY_UNDER)]
print(json.dumps({"run": args.run.__name__,
                  "executed": [n for n in sorted(lazy_stdlib.LAZY) + sorted(tc)
                               if lazy_stdlib.executed(n)],
                  "c_modules": [m for m in ("_ssl", "_hashlib") if m in sys.modules],
                  "subcommands": [m for m in sys.modules if m.startswith(
                      ("haipvs.lab", "haipvs.realserver", "haipvs.importer"))]}))
""")
    assert got == {"run": "run_daemon", "executed": [], "c_modules": [], "subcommands": []}


def test_a_lazy_module_is_the_whole_module_on_first_use():
    got = run("""
import json, sys
import haipvs, trio, asyncio
import ssl
from haipvs import lazy_stdlib
before = lazy_stdlib.executed("ssl")
from ssl import SSLContext
context = ssl.create_default_context()
import asyncio.sslproto
import hashlib, hmac
from unittest import mock
mock_only = not lazy_stdlib.executed("unittest")
import unittest
print(json.dumps({"mock_only": mock_only, "testcase": unittest.TestCase.__name__,
                  "mock": unittest.mock is mock,
                  "before": before, "after": lazy_stdlib.executed("ssl"),
                  "same": trio._ssl._stdlib_ssl.SSLContext is SSLContext is type(context),
                  "sslproto": asyncio.sslproto.SSLAgainErrors[0] is ssl.SSLWantReadError,
                  "md5": hashlib.md5(b"", usedforsecurity=False).hexdigest(),
                  "hmac": hmac.compare_digest(b"a", b"a"),
                  "no_getattr": not hasattr(ssl, "__getattr__")}))
""")
    assert got == {"mock_only": True, "testcase": "TestCase", "mock": True,
                   "before": False, "after": True, "same": True, "sslproto": True,
                   "md5": "d41d8cd98f00b204e9800998ecf8427e", "hmac": True, "no_getattr": True}


def test_threads_racing_for_the_first_use_run_the_body_once():
    got = run("""
import json, threading
import haipvs
import ssl
start = threading.Barrier(8)
seen = []
def use():
    start.wait()
    seen.append(ssl.SSLContext)
threads = [threading.Thread(target=use) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"classes": len({id(c) for c in seen}), "count": len(seen),
                  "final": ssl.SSLContext is seen[0]}))
""")
    assert got == {"classes": 1, "count": 8, "final": True}


def test_a_pass_password_loads_hmac_before_the_vrrp_thread_needs_it():
    # the VRRP thread compares PASS passwords with hmac.compare_digest: loading hmac maps
    # libcrypto, which must not happen on that thread's first advert
    got = run("""
import json
import haipvs.vrrp_binding
from haipvs import lazy_stdlib
before = lazy_stdlib.executed("hmac")
haipvs.vrrp_binding._load_hmac()
print(json.dumps([before, lazy_stdlib.executed("hmac")]))
""")
    assert got == [False, True]


def test_pyroutes_tc_modules_are_lazy_and_whole_on_first_use():
    # The prefix in lazy_stdlib.LAZY_UNDER must still name pyroute2's tc modules: if a
    # pyroute2 upgrade moves them, this fails (the import itself would only be eager again).
    got = run("""
import json, sys
import haipvs
from pyroute2 import IPRoute
from haipvs import lazy_stdlib
tc = sorted(n for n in sys.modules if n.startswith(lazy_stdlib.LAZY_UNDER))
lazy = [n for n in tc if not lazy_stdlib.executed(n)]
from pyroute2.netlink.rtnl.tcmsg import plugins
htb = plugins["htb"]
print(json.dumps({"htb_lazy": "pyroute2.netlink.rtnl.tcmsg.sched_htb" in lazy,
                  "all_lazy": lazy == tc, "many": len(tc) >= 20,
                  "options": htb.options.__name__, "params": callable(htb.get_parameters),
                  "after": lazy_stdlib.executed("pyroute2.netlink.rtnl.tcmsg.sched_htb")}))
""")
    assert got == {"htb_lazy": True, "all_lazy": True, "many": True, "options": "options",
                   "params": True, "after": True}


def test_idna_is_whole_on_first_use():
    got = run("""
import json
import haipvs, trio
from haipvs import lazy_stdlib
before = lazy_stdlib.executed("idna")
print(json.dumps([before, trio._socket._idna.encode("b\u00fccher.example").decode()]))
""")
    assert got == [False, "xn--bcher-kva.example"]


def test_difflib_getpass_and_uuid_are_whole_on_first_use():
    got = run("""
import json
import haipvs, structlog
import haipvs.config.spec, haipvs.drivers.smtp_alert
from haipvs import lazy_stdlib
before = [lazy_stdlib.executed(n) for n in ("difflib", "getpass", "uuid")]
import difflib, getpass, uuid
print(json.dumps([before, difflib.get_close_matches("prioriy", ["priority"]),
                  "@" in haipvs.drivers.smtp_alert.default_sender(),
                  uuid.UUID(str(uuid.uuid4())).version]))
""")
    assert got == [[False, False, False], ["priority"], True, 4]


def test_bz2_lzma_tempfile_and_shlex_are_whole_on_first_use():
    got = run("""
import json
import haipvs, shutil, trio
from haipvs import lazy_stdlib
before = [lazy_stdlib.executed(n) for n in ("bz2", "lzma", "tempfile", "shlex")]
import bz2, lzma, shlex, tempfile
with tempfile.TemporaryDirectory() as tmp:
    made = tmp.startswith(tempfile.gettempdir())
print(json.dumps([before, bz2.decompress(bz2.compress(b"x")).decode(),
                  lzma.decompress(lzma.compress(b"y")).decode(), made,
                  shlex.split("a 'b c'"), shutil._BZ2_SUPPORTED and shutil._LZMA_SUPPORTED]))
""")
    assert got == [[False, False, False, False], "x", "y", True, ["a", "b c"], True]
