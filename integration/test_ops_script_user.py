"""Script users and script security in a running daemon, against keepalived 2.2.7.

- A running haipvs runs its notify, FIFO and track scripts as `global.script_user` (or the
  script's own `user`), as keepalived's lib/notify.c set_script_env() does.
- With enable_script_security, a track script that a non-root user could modify (here: in a
  world-writable directory without the sticky bit) is disabled at load, and its instance
  runs as if it did not track it (keepalived vrrp.c check_track_script_secure: "Disabling
  track script ... due to insecure", then free_track_script). The same failing script in a
  safe directory runs and puts its instance into FAULT (weight 0). keepalived and haipvs
  get the same config and must end in the same states, also after the directory is made
  safe and both reload.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from integration.harness.wait import wait_until
from integration.test_ops_support import FAST, ops_node_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.netns

NOBODY = pwd.getpwnam("nobody").pw_uid
NOGROUP = grp.getgrnam("nogroup").gr_gid
DAEMON_GID = grp.getgrnam("daemon").gr_gid
STATE_TIMEOUT = 8.0  # start + Master_Down at 0.2 s adverts, on a shared 2-core machine


@pytest.fixture
def outdir():
    # pytest's tmp_path sits under a 0700 directory that `nobody` cannot enter.
    directory = tempfile.mkdtemp(prefix="haipvs-ops-script-user-", dir="/tmp")
    os.chmod(directory, 0o777)
    yield Path(directory)
    shutil.rmtree(directory)


def ids(out: Path) -> list[str]:
    return ["/bin/sh", "-c", f'echo "$(id -u) $(id -g) $(id -G)" > {out}']


def read_ids(path: Path, daemon) -> list[str]:
    wait_until(lambda: path.exists() and path.read_text().endswith("\n"), 5,
               what=f"{path.name} written by its script", describe=daemon.describe)
    return path.read_text().split()


def test_running_daemon_runs_scripts_as_script_user(lan, ops_node, outdir):
    vi_1 = FAST.but(name="VI_1", vrid=61, vips=("192.0.2.161/24",))
    daemon = ops_node(
        lan.add_node("d1"), vi_1,
        top={"global": {"script_user": "nobody:nogroup",
                        "notify_fifo": str(outdir / "events.fifo"),
                        "notify_fifo_script": ids(outdir / "fifo")},
             "vrrp_scripts": [
                 {"name": "chk", "script": ids(outdir / "track"), "interval": 1},
                 {"name": "own", "script": ids(outdir / "own"), "interval": 1,
                  "user": "nobody:daemon"}]},
        per_instance={"VI_1": {"track_script": ["chk", "own"],
                               "notify_master": ids(outdir / "master")}})
    daemon.wait_state("MASTER", STATE_TIMEOUT)
    as_script_user = [str(NOBODY), str(NOGROUP), str(NOGROUP)]
    assert read_ids(outdir / "master", daemon) == as_script_user
    assert read_ids(outdir / "fifo", daemon) == as_script_user
    assert read_ids(outdir / "track", daemon) == as_script_user
    assert read_ids(outdir / "own", daemon) == [str(NOBODY), str(DAEMON_GID), str(DAEMON_GID)]
    scripts = daemon.dump()["trackers"]["scripts"]
    assert (scripts["chk"]["run_as"], scripts["own"]["run_as"]) == ("nobody:nogroup",
                                                                    "nobody:daemon")
    # keepalived vrrp.c check_vrrp_script_security: scripts without enable_script_security
    warnings = [e for e in daemon.log_events() if e.get("event") == "script_security"]
    assert any("SECURITY VIOLATION" in e["detail"] for e in warnings), warnings
    assert daemon.stop() == 0


KEEPALIVED_SCRIPTS = """\
vrrp_script chk_unsafe {{
    script "{unsafe}"
    interval 1
    weight 0
}}

vrrp_script chk_safe {{
    script "{safe}"
    interval 1
    weight 0
}}

"""


def failing_scripts(base: Path) -> tuple[Path, Path]:
    """The same failing script twice: in a world-writable directory and in a safe one."""
    unsafe_dir, safe_dir = base / "ww", base / "safe"
    for directory, mode in ((unsafe_dir, 0o777), (safe_dir, 0o755)):
        directory.mkdir()
        os.chmod(directory, mode)
        script = directory / "fail.sh"
        script.write_text("#!/bin/sh\nexit 1\n")
        os.chmod(script, 0o755)
    return unsafe_dir / "fail.sh", safe_dir / "fail.sh"


def test_insecure_track_script_is_disabled_as_keepalived(lan, ops_node, keepalived_node,
                                                         tmp_path):
    unsafe, safe = failing_scripts(tmp_path)

    k1 = FAST.but(name="VI_1", vrid=71, vips=("192.0.2.171/24",))
    k2 = FAST.but(name="VI_2", vrid=72, vips=("192.0.2.172/24",))
    keepalived = keepalived_node(lan.add_node("k1"), k1, k2, start=False)
    conf = keepalived.conf_path.read_text()
    # enable_script_security is in the harness' global_defs; without a keepalived_script
    # user it needs script_user (lib/notify.c get_default_script_user)
    conf = conf.replace("global_defs {", "global_defs {\n    script_user root", 1)
    conf = conf.replace("vrrp_instance VI_1 {", KEEPALIVED_SCRIPTS.format(
        unsafe=unsafe, safe=safe) + "vrrp_instance VI_1 {", 1)
    conf = conf.replace("vrrp_instance VI_1 {", "vrrp_instance VI_1 {\n"
                        "    track_script {\n        chk_unsafe\n    }", 1)
    conf = conf.replace("vrrp_instance VI_2 {", "vrrp_instance VI_2 {\n"
                        "    track_script {\n        chk_safe\n    }", 1)
    keepalived.conf_path.write_text(conf)
    keepalived.start()

    h1 = FAST.but(name="VI_1", vrid=73, vips=("192.0.2.173/24",))
    h2 = FAST.but(name="VI_2", vrid=74, vips=("192.0.2.174/24",))
    haipvs = ops_node(
        lan.add_node("h1"), h1, h2,
        top={"global": {"script_user": "root", "enable_script_security": True},
             "vrrp_scripts": [
                 {"name": "chk_unsafe", "script": [str(unsafe)], "interval": 1, "weight": 0},
                 {"name": "chk_safe", "script": [str(safe)], "interval": 1, "weight": 0}]},
        per_instance={"VI_1": {"track_script": ["chk_unsafe"]},
                      "VI_2": {"track_script": ["chk_safe"]}})

    keepalived.wait_state("MASTER", STATE_TIMEOUT, name="VI_1")
    haipvs.wait_state("MASTER", STATE_TIMEOUT, name="VI_1")
    haipvs.wait_state("FAULT", STATE_TIMEOUT, name="VI_2")
    log = keepalived.proc.log_text()
    assert "Disabling track script chk_unsafe due to insecure" in log
    assert "FAULT" not in keepalived.transitions("VI_1")
    # keepalived's VI_2 starts in a silent FAULT (its weight-0 script has not run yet,
    # vrrp_track.c initialise_track_script_state) and the failing script keeps it there:
    # no state line, no VIP, ever.
    assert "VRRP_Script(chk_safe) failed" in log
    assert keepalived.transitions("VI_2") == [] and not keepalived.has_vip(name="VI_2")
    assert not haipvs.has_vip(name="VI_2")

    refused = [e for e in haipvs.log_events()
               if e.get("event") == "script_security" and e.get("level") == "error"]
    assert [e["where"] for e in refused] == ["vrrp_scripts[chk_unsafe].script"], refused
    assert f"{unsafe.parent} is world-writable" in refused[0]["detail"]
    assert "chk_unsafe" not in haipvs.dump()["trackers"]["scripts"]
    transitions = [e for e in haipvs.log_events() if e.get("event") == "vrrp_transition"
                   and e.get("instance") == "VI_1"]
    assert all(e.get("new") != "FAULT" for e in transitions), transitions

    # Made safe, the script is checked again on reload (keepalived re-runs
    # check_vrrp_script_security when it reloads): now it runs, fails, and VI_1 is FAULT.
    os.chmod(unsafe.parent, 0o755)
    keepalived.signal(signal.SIGHUP)
    haipvs.reload()
    keepalived.wait_state("FAULT", STATE_TIMEOUT, name="VI_1")
    haipvs.wait_state("FAULT", STATE_TIMEOUT, name="VI_1")
    assert "chk_unsafe" in haipvs.dump()["trackers"]["scripts"]


def test_missing_or_not_executable_track_script_is_left_out_as_keepalived(
        lan, ops_node, keepalived_node, tmp_path):
    """Without enable_script_security too, keepalived's check_script_secure() disables a
    track script it cannot find ("Disabling track script ... since not found/accessible")
    or that is not executable ("WARNING - script ... is not executable ... - disabling."),
    and the instance runs without it: a weight-0 one does not hold it in FAULT."""
    missing = tmp_path / "no-such-check.sh"
    plain = tmp_path / "not-executable.sh"
    plain.write_text("#!/bin/sh\nexit 1\n")
    os.chmod(plain, 0o644)

    k1 = FAST.but(name="VI_1", vrid=81, vips=("192.0.2.181/24",))
    k2 = FAST.but(name="VI_2", vrid=82, vips=("192.0.2.182/24",))
    keepalived = keepalived_node(lan.add_node("k1"), k1, k2, start=False)
    conf = keepalived.conf_path.read_text()
    conf = conf.replace("    enable_script_security\n", "    script_user root\n", 1)
    conf = conf.replace("vrrp_instance VI_1 {", KEEPALIVED_SCRIPTS.format(
        unsafe=missing, safe=plain).replace("chk_unsafe", "chk_missing").replace(
        "chk_safe", "chk_plain") + "vrrp_instance VI_1 {", 1)
    conf = conf.replace("vrrp_instance VI_1 {", "vrrp_instance VI_1 {\n"
                        "    track_script {\n        chk_missing\n    }", 1)
    conf = conf.replace("vrrp_instance VI_2 {", "vrrp_instance VI_2 {\n"
                        "    track_script {\n        chk_plain\n    }", 1)
    keepalived.conf_path.write_text(conf)
    keepalived.start()

    h1 = FAST.but(name="VI_1", vrid=83, vips=("192.0.2.183/24",))
    h2 = FAST.but(name="VI_2", vrid=84, vips=("192.0.2.184/24",))
    haipvs = ops_node(
        lan.add_node("h1"), h1, h2,
        top={"vrrp_scripts": [
            {"name": "chk_missing", "script": [str(missing)], "interval": 1, "weight": 0},
            {"name": "chk_plain", "script": [str(plain)], "interval": 1, "weight": 0}]},
        per_instance={"VI_1": {"track_script": ["chk_missing"]},
                      "VI_2": {"track_script": ["chk_plain"]}})

    for name in ("VI_1", "VI_2"):
        keepalived.wait_state("MASTER", STATE_TIMEOUT, name=name)
        haipvs.wait_state("MASTER", STATE_TIMEOUT, name=name)
    log = keepalived.proc.log_text()
    assert "Disabling track script chk_missing since not found/accessible" in log
    assert f"WARNING - script '{plain}' is not executable" in log
    assert "FAULT" not in keepalived.transitions("VI_1") + keepalived.transitions("VI_2")
    findings = {e["where"]: e["detail"] for e in haipvs.log_events()
                if e.get("event") == "script_security" and e.get("level") == "warning"}
    assert "not found" in findings["vrrp_scripts[chk_missing].script"]
    assert "not executable" in findings["vrrp_scripts[chk_plain].script"]
    assert haipvs.dump()["trackers"]["scripts"] == {}
    transitions = [e for e in haipvs.log_events() if e.get("event") == "vrrp_transition"]
    assert all(e.get("new") != "FAULT" for e in transitions), transitions
