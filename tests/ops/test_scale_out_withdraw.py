"""`haipvs stop-post` / `haipvs withdraw-routes` (systemd ExecStopPost / OnFailure, issue 17)
in a scratch namespace: only haipvs's own routes (proto 75) in scale_out.table go, and
stop-post only when SERVICE_RESULT=watchdog."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scratch_netns import run, scratch_netns

pytestmark = pytest.mark.netns

HAIPVS = Path(sys.executable).parent / "haipvs"
CONFIG = """
scale_out:
  table: 201
  vips: [{address: 192.0.2.10}, {address: 192.0.2.11}]
virtual_servers:
  - address: 192.0.2.10
    port: 80
    lb_kind: DR
    lb_algo: mh
    real_servers: [{address: 198.51.100.10, port: 80}]
  - address: 192.0.2.11
    port: 80
    lb_kind: DR
    lb_algo: mh
    real_servers: [{address: 198.51.100.10, port: 80}]
"""


def routes(ns: str) -> set[str]:
    out = run("ip", "-n", ns, "route", "show", "table", "201").stdout
    return {" ".join(line.split()) for line in out.splitlines()}


def haipvs(config: Path, ns: str, verb: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HAIPVS), "--config", str(config), "--namespace", ns, verb],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env}, check=False)


@pytest.fixture
def director(tmp_path):
    if not HAIPVS.exists():
        pytest.skip("the haipvs entry point is not installed in this venv")
    config = tmp_path / "lvs.yaml"
    config.write_text(CONFIG)
    with scratch_netns("hwd") as ns:
        run("ip", "-n", ns, "link", "set", "lo", "up")
        for vip in ("192.0.2.10", "192.0.2.11"):  # as route_table announces them
            run("ip", "-n", ns, "route", "add", f"{vip}/32", "dev", "lo", "table", "201",
                "proto", "75")
        # another owner's route in the same table (e.g. an operator's static one)
        run("ip", "-n", ns, "route", "add", "192.0.2.12/32", "dev", "lo", "table", "201",
            "proto", "static")
        yield config, ns


def test_stop_post_keeps_the_routes_after_a_crash_and_withdraws_after_a_hang(director):
    config, ns = director
    before = routes(ns)
    assert len(before) == 3
    kept = haipvs(config, ns, "stop-post", SERVICE_RESULT="signal")  # e.g. SIGKILL
    assert kept.returncode == 0, kept.stderr
    assert routes(ns) == before
    hung = haipvs(config, ns, "stop-post", SERVICE_RESULT="watchdog")
    assert hung.returncode == 0, hung.stderr
    assert "withdrew 192.0.2.10, 192.0.2.11" in hung.stdout
    assert routes(ns) == {"192.0.2.12 dev lo proto static scope link"}


def test_withdraw_routes_deletes_only_haipvs_routes(director):
    config, ns = director
    done = haipvs(config, ns, "withdraw-routes")
    assert done.returncode == 0, done.stderr
    assert routes(ns) == {"192.0.2.12 dev lo proto static scope link"}
    again = haipvs(config, ns, "withdraw-routes")  # nothing left: still fine
    assert again.returncode == 0 and "withdrew nothing" in again.stdout


def test_a_config_that_no_longer_validates_still_withdraws_from_its_table(director):
    """OnFailure runs because the restarts gave up, perhaps over a broken config: the routes
    must go anyway, from the table the file still names."""
    config, ns = director
    config.write_text(config.read_text() + "unknown_key: 1\n")
    done = haipvs(config, ns, "withdraw-routes")
    assert done.returncode == 0, done.stderr
    assert "does not validate" in done.stderr
    assert routes(ns) == {"192.0.2.12 dev lo proto static scope link"}
