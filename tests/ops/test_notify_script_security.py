"""Script security checks each notify-type script as the user it runs as (keepalived
lib/notify.c notify_script_init gives each its uid/gid, then check_script_secure(script,
uid, gid)): a script its own non-root user runs may sit in a world-writable directory (only
scripts run as root must be root's alone), and a script must be executable by its own user.
The scripts live in real temporary directories."""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest

from haipvs import script_creds
from haipvs.config.loader import load_config_text
from haipvs.config.notify_script import ScriptCommand

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the checks are root's")


@pytest.fixture
def unsafe():
    """A 0777 directory (no sticky bit) with ok.sh (0755) and root-only.sh (0700)."""
    base = tempfile.mkdtemp(prefix="haipvs-notify-sec-", dir="/tmp")
    os.chmod(base, 0o755)
    directory = Path(base, "ww")
    directory.mkdir()
    os.chmod(directory, 0o777)
    for name, mode in (("ok.sh", 0o755), ("root-only.sh", 0o700)):
        (directory / name).write_text("#!/bin/sh\nexit 0\n")
        os.chmod(directory / name, mode)
    yield directory
    shutil.rmtree(base)


def test_each_notify_script_is_checked_as_its_own_user(unsafe):
    loaded = load_config_text(textwrap.dedent(f"""\
    global: {{script_user: root, enable_script_security: true}}
    vrrp_instances:
      - name: VI_1
        interface: lo
        virtual_router_id: 51
        virtual_ipaddress: [192.0.2.1/32]
        notify_master: {{command: {unsafe}/ok.sh, user: nobody}}
        notify_backup: {unsafe}/ok.sh
        notify_fault: {{command: {unsafe}/root-only.sh, user: nobody}}
    virtual_servers:
      - address: 192.0.2.1
        port: 80
        protocol: TCP
        real_servers:
          - address: 198.51.100.1
            port: 80
            tcp_check: {{}}
            notify_up: {{command: [{unsafe}/ok.sh, up], user: nobody, group: nogroup}}
            notify_down: [{unsafe}/ok.sh, down]
    """))
    report = script_creds.review(loaded)
    # as root (script_user): refused, the directory is world-writable; as nobody: runs
    assert {f.where for f in report.errors} == {
        "vrrp_instances[VI_1].notify_backup", "virtual_servers[0].real_servers[0].notify_down"}
    # unless nobody cannot execute it: left out ("not executable"), with or without security
    assert set(report.disabled) == {f.where for f in report.errors} | {
        "vrrp_instances[VI_1].notify_fault"}
    running = script_creds.apply(loaded, report)
    instance = running.vrrp_instances[0]
    assert instance.notify_master == ScriptCommand((f"{unsafe}/ok.sh",), "nobody")
    assert (instance.notify_backup, instance.notify_fault) == (None, None)
    (rs,) = running.virtual_servers[0].real_servers
    assert rs.notify_up == ScriptCommand((f"{unsafe}/ok.sh", "up"), "nobody", "nogroup")
    assert rs.notify_down is None
