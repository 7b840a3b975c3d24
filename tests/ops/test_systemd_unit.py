"""systemd/haipvs.service passes `systemd-analyze verify` (with ExecStart pointing at the venv's
haipvs) and keeps the settings the daemon relies on."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "haipvs.service"
WITHDRAW_UNIT = UNIT.with_name("haipvs-withdraw.service")


def test_unit_passes_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (apt install systemd)")
    haipvs = Path(sys.executable).parent / "haipvs"
    if not haipvs.exists():
        pytest.skip("the haipvs entry point is not installed in this venv")
    units = []
    for source in (UNIT, WITHDRAW_UNIT):  # OnFailure= names the second
        unit = tmp_path / source.name
        unit.write_text(source.read_text().replace("/usr/local/bin/haipvs", str(haipvs)))
        units.append(str(unit))
    result = subprocess.run([analyze, "verify", *units], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    # verify prints warnings without failing; an unknown directive would be one.
    assert "Unknown" not in result.stderr and "ignoring" not in result.stderr, result.stderr


def test_unit_has_what_the_daemon_relies_on():
    settings = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), value.strip())
    assert settings["Type"] == "notify"  # READY=1 after VRRP sockets + first IPVS pass
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert settings["Restart"] == "on-failure"
    assert int(settings["WatchdogSec"]) > 0
    assert settings["NotifyAccess"] == "main"  # notify scripts must not be able to notify


def test_the_seccomp_filter_lets_the_vrrp_thread_use_its_io_uring_ring():
    # haipvs/drivers/timed_send.py: io_uring is in systemd's @aio, not @system-service
    allowed = set()
    for line in UNIT.read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "SystemCallFilter" and not value.startswith("~"):
            allowed.update(value.split())
    assert {"io_uring_setup", "io_uring_enter"} <= allowed
    # anything else refused fails the call rather than killing the director (SIGSYS)
    assert "SystemCallErrorNumber=EPERM" in UNIT.read_text().splitlines()


def test_scale_out_routes_are_withdrawn_on_a_hang_and_once_restarts_give_up():
    """issue 17: a watchdog failure withdraws (ExecStopPost stop-post reads SERVICE_RESULT);
    a crash keeps the routes for the restarted daemon; OnFailure withdraws for good."""
    text = UNIT.read_text()
    assert "ExecStopPost=/usr/local/bin/haipvs --config /etc/haipvs/lvs.yaml stop-post" in text
    assert "OnFailure=haipvs-withdraw.service" in text
    assert "withdraw-routes" in WITHDRAW_UNIT.read_text()
