"""The importer's keyword tables: the facts they share with the config come from
haipvs.limits, each checker takes only its own keywords, and the translation modules are pure
(no I/O frameworks: the importer reads a file and returns text, the CLI prints it)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from haipvs import limits
from haipvs.config import load_config_text
from haipvs.importer import import_keepalived
from haipvs.importer.checkers import TABLES
from haipvs.importer.global_defs import GLOBAL_DEFS
from haipvs.importer.notes import NOT_TRANSLATED
from haipvs.importer.vrrp import VRRP_INSTANCE

IMPORTER = Path(__file__).parents[2] / "haipvs" / "importer"
# Modules that only translate (the reader, grammar.py, and the CLI do the I/O).
TRANSLATION = ("rules", "state", "reasons", "global_defs", "vrrp", "vrrp_tracking",
               "virtual_server", "real_server", "checkers", "translate", "notes", "emit")
IMPURE = {"trio", "socket", "pyroute2", "structlog", "time", "threading", "os", "subprocess"}

INSTANCE = """
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {{
        192.0.2.10/24
    }}
{body}
}}
"""


def imported(tmp_path: Path, text: str):
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    result = import_keepalived(path, display="keepalived.conf")
    return load_config_text(result.yaml, "imported.yaml"), result


def test_importer_loads_no_io_framework():
    code = ("import sys, haipvs.importer, haipvs.importer.cli; "
            "print(sorted(m for m in ('trio', 'pyroute2', 'structlog') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("module", TRANSLATION)
def test_translation_modules_are_pure(module: str):
    tree = ast.parse((IMPORTER / f"{module}.py").read_text())
    imported_names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported_names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported_names.add(node.module.split(".")[0])
    assert not imported_names & IMPURE


def test_garp_keywords_are_limits_renames():
    """keepalived spells the garp settings garp_* in vrrp_instance (vrrp/vrrp_parser.c) and
    vrrp_garp_* in global_defs (core/global_parser.c); both tables follow limits."""
    for keyword in limits.GARP_RENAMES:
        assert keyword in VRRP_INSTANCE
        assert limits.GLOBAL_GARP_PREFIX + keyword in GLOBAL_DEFS


def test_instance_garp_overrides_the_global_default(tmp_path: Path):
    """keepalived/vrrp/vrrp_parser.c: an instance's garp_master_delay replaces global_defs'
    vrrp_garp_master_delay; the others still come from global_defs."""
    config, _ = imported(tmp_path, "global_defs {\n  vrrp_garp_master_delay 2\n"
                         "  vrrp_garp_master_repeat 3\n}\n"
                         + INSTANCE.format(body="    garp_master_delay 7"))
    garp = config.vrrp_instances[0].garp
    assert (garp.master_delay, garp.master_repeat) == (7, 3)


@pytest.mark.parametrize("algo", limits.SCHEDULERS)
def test_every_ipvs_scheduler_is_translated(tmp_path: Path, algo: str):
    """keepalived/check/check_parser.c lb_algo takes any scheduler name IPVS has."""
    config, result = imported(tmp_path, f"virtual_server 192.0.2.1 80 {{\n  protocol TCP\n"
                              f"  lvs_sched {algo}\n  real_server 192.0.2.2 80 {{\n  }}\n}}\n")
    assert config.virtual_servers[0].lb_algo == algo
    assert not result.notes


def test_unknown_scheduler_is_reported(tmp_path: Path):
    config, result = imported(tmp_path, "virtual_server 192.0.2.1 80 {\n  lb_algo xyz\n"
                              "  protocol TCP\n  real_server 192.0.2.2 80 {\n  }\n}\n")
    assert config.virtual_servers[0].lb_algo == limits.DEFAULT_SCHEDULER
    assert [str(n) for n in result.notes] == [
        "keepalived.conf:2: lb_algo: not translated (unknown scheduler 'xyz'; keepalived "
        "ignores it too and uses wlc)"]


@pytest.mark.parametrize("kind", limits.LB_KINDS)
def test_forwarding_methods_in_either_spelling(tmp_path: Path, kind: str):
    config, _ = imported(tmp_path, f"virtual_server 192.0.2.1 80 {{\n  lb_kind {kind}\n"
                         f"  real_server 192.0.2.2 80 {{\n    lvs_method {kind}\n  }}\n}}\n")
    vs = config.virtual_servers[0]
    assert vs.lb_kind == kind and vs.real_servers[0].lb_kind == kind


def test_tunnel_options_of_the_virtual_server_apply_to_its_real_servers(tmp_path: Path):
    """keepalived/check/check_parser.c: `lvs_method TUN type gre` in a virtual_server is the
    default of its real servers; a real server's own lvs_method replaces it."""
    config, result = imported(tmp_path, (
        "virtual_server 192.0.2.1 80 {\n  protocol TCP\n  lvs_method TUN type gre nocsum\n"
        "  real_server 192.0.2.2 80 {\n  }\n"
        "  real_server 192.0.2.3 80 {\n    lvs_method TUN type ipip\n  }\n}\n"))
    first, second = config.virtual_servers[0].real_servers
    assert (first.tun_type, set(first.tun_flags)) == ("gre", {"nocsum"})
    assert second.tun_type == "ipip"
    assert not result.notes


@pytest.mark.parametrize("checker, keyword", [
    ("MISC_CHECK", "connect_port 80"),   # MISC_CHECK connects to nothing
    ("TCP_CHECK", "misc_path /bin/true"),
    ("TCP_CHECK", "url {\n path /\n }"),
    ("HTTP_GET", "enable_sni"),           # SSL_GET only
    ("TCP_CHECK", "payload 00"),          # UDP_CHECK only
])
def test_a_keyword_of_another_checker_is_reported(tmp_path: Path, checker: str, keyword: str):
    """Each checker has its own table (keepalived/check/check_*.c install their keywords per
    checker), so a keyword in the wrong checker is not translated, and says so."""
    body = "misc_path /bin/true\n" if checker == "MISC_CHECK" else ""
    body += "url {\n path /\n }\n" if checker == "HTTP_GET" else ""
    _, result = imported(tmp_path, (
        f"virtual_server 192.0.2.1 80 {{\n  protocol TCP\n  real_server 192.0.2.2 80 {{\n"
        f"    {checker} {{\n{body}{keyword}\n    }}\n  }}\n}}\n"))
    name = keyword.split()[0]
    expected = [(name, NOT_TRANSLATED)]
    if name == "url":  # keepalived reads a block it does not know as lines of the checker
        expected.append(("path", NOT_TRANSLATED))
    assert [(n.keyword, n.kind) for n in result.notes] == expected


def test_every_checker_reads_the_shared_timing_keywords():
    # check_file.c install_file_check_keyword(): FILE_CHECK has only track_file and weight
    for table in (t for kind, t in TABLES.items() if kind != "file_check"):
        assert {"retry", "nb_get_retry", "delay_before_retry", "delay_loop", "warmup",
                "alpha"} <= set(table)


def test_advert_int_range_is_the_limits_range(tmp_path: Path):
    """The importer reads advert_int in limits.ADVERT_INT_MIN..ADVERT_INT_MAX, whatever the
    version (keepalived/vrrp/vrrp_parser.c reads it before it knows the version)."""
    _, result = imported(tmp_path, INSTANCE.format(body="    advert_int 256"))
    assert [n.why for n in result.notes] == [
        f"256 is out of range {limits.ADVERT_INT_MIN:g}..{limits.ADVERT_INT_MAX:g}"]
