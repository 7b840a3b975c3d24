"""Script security on a whole config: which scripts a config has, what keepalived 2.2.7 does
with the ones check_script_secure() disables (vrrp.c check_vrrp_script_security,
check_misc.c check_misc_script_security), the default script user (lib/notify.c
get_default_script_user), and `haipvs check` refusing an insecure script with
enable_script_security (keepalived -t reports "Disabling track script ... due to insecure").

The scripts live in real temporary directories: a world-writable one (0777, no sticky bit)
is what check_security() calls unsafe for a script run as root.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest

from haipvs import cli, script_creds
from haipvs.config.loader import load_config_text
from haipvs.config.scripts import configured_scripts

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the checks are root's")


@pytest.fixture
def dirs():
    """(safe, unsafe): a root-owned 0755 directory and a 0777 one, each with ok.sh (0755)."""
    base = tempfile.mkdtemp(prefix="haipvs-scriptsec-", dir="/tmp")
    os.chmod(base, 0o755)
    safe, unsafe = Path(base, "safe"), Path(base, "unsafe")
    for directory, mode in ((safe, 0o755), (unsafe, 0o777)):
        directory.mkdir()
        os.chmod(directory, mode)
        script = directory / "ok.sh"
        script.write_text("#!/bin/sh\nexit 0\n")
        os.chmod(script, 0o755)
    yield safe, unsafe
    shutil.rmtree(base)


def config(scripts_dir: Path, *, security: bool, script_user: str | None = "root",
           check_dir: Path | None = None) -> str:
    check_dir = check_dir or scripts_dir
    lines = ["global:", "  router_id: t", f"  enable_script_security: {str(security).lower()}"]
    if script_user:
        lines.append(f"  script_user: {script_user}")
    return "\n".join(lines) + "\n" + textwrap.dedent(f"""\
    vrrp_scripts:
      - {{name: chk, script: {scripts_dir}/ok.sh, weight: -10}}
      - {{name: other, script: /bin/true}}
    vrrp_instances:
      - name: VI_1
        interface: lo
        virtual_router_id: 51
        virtual_ipaddress: [192.0.2.1/32]
        track_script: [chk, other]
        notify_master: {scripts_dir}/ok.sh
        notify_backup: /bin/true
    virtual_servers:
      - address: 192.0.2.1
        port: 80
        protocol: TCP
        real_servers:
          - address: 198.51.100.1
            port: 80
            misc_check: {{path: {check_dir}/ok.sh}}
            tcp_check: {{}}
    """)


def test_every_script_setting_is_found_with_its_config_path(dirs):
    safe, _ = dirs
    found = {s.where: s for s in configured_scripts(load_config_text(config(safe, security=False)))}
    assert set(found) == {
        "vrrp_scripts[chk].script", "vrrp_scripts[other].script",
        "vrrp_instances[VI_1].notify_master", "vrrp_instances[VI_1].notify_backup",
        "virtual_servers[0].real_servers[0].misc_check.path",
    }
    assert found["vrrp_scripts[chk].script"].user is None


@needs_root
def test_insecure_scripts_with_security_are_disabled_as_keepalived(dirs):
    """vrrp.c: "Disabling track script chk due to insecure", the instance's track_script
    reference is freed; a notify script is freed; check_misc.c frees the checker."""
    _, unsafe = dirs
    loaded = load_config_text(config(unsafe, security=True))
    report = script_creds.review(loaded)
    refused = {f.where for f in report.errors}
    assert refused == {"vrrp_scripts[chk].script", "vrrp_instances[VI_1].notify_master",
                       "virtual_servers[0].real_servers[0].misc_check.path"}
    error = next(f for f in report.errors if f.where == "vrrp_scripts[chk].script")
    assert str(unsafe) in error.message and "world-writable" in error.message
    running = script_creds.apply(loaded, report)
    assert [s.name for s in running.vrrp_scripts] == ["other"]
    instance = running.vrrp_instances[0]
    assert [r.name for r in instance.track_script] == ["other"]
    assert instance.notify_master is None
    assert tuple(instance.notify_backup) == ("/usr/bin/true",)  # realpath, as keepalived rewrites
    (rs,) = running.virtual_servers[0].real_servers
    assert [c.kind for c in rs.checkers] == ["tcp_check"]


@needs_root
def test_insecure_scripts_without_security_run_with_the_security_violation_warning(dirs):
    _, unsafe = dirs
    loaded = load_config_text(config(unsafe, security=False))
    report = script_creds.review(loaded)
    assert report.errors == [] and report.disabled == set()
    warnings = [str(f) for f in report.findings if f.level == "warning"]
    assert any(w.startswith("vrrp_scripts[chk].script: script ") and "insecure" in w
               for w in warnings)
    assert warnings[-1] == ("global.enable_script_security: SECURITY VIOLATION - scripts are "
                            "being executed but script_security not enabled. There are "
                            "insecure scripts.")
    running = script_creds.apply(loaded, report)
    assert [s.name for s in running.vrrp_scripts] == ["chk", "other"]


@needs_root
def test_default_user_fills_every_unset_user(dirs):
    safe, _ = dirs
    loaded = load_config_text(config(safe, security=True, script_user="nobody:nogroup"))
    running = script_creds.apply(loaded, script_creds.review(loaded))
    assert running.global_settings.script_user == "nobody:nogroup"
    assert {s.user for s in running.vrrp_scripts} == {"nobody:nogroup"}
    misc = running.virtual_servers[0].real_servers[0].checkers[0]
    assert misc.user == "nobody:nogroup"


@needs_root
def test_without_keepalived_script_user_security_needs_script_user(dirs, monkeypatch):
    """get_default_script_user(): with enable_script_security and no keepalived_script
    user, "Unable to set default user keepalived_script for script"; every script without
    its own user is left out."""
    safe, _ = dirs
    monkeypatch.setattr(script_creds, "user_exists", lambda name: False)
    loaded = load_config_text(config(safe, security=True, script_user=None))
    report = script_creds.review(loaded)
    assert report.default_user is None
    assert report.errors[0].where == "global.script_user"
    assert "Unable to set default user keepalived_script" in report.errors[0].message
    running = script_creds.apply(loaded, report)
    assert running.vrrp_scripts == () and running.vrrp_instances[0].notify_master is None
    # without security keepalived falls back to its own user: root here
    loaded = load_config_text(config(safe, security=False, script_user=None))
    report = script_creds.review(loaded)
    assert report.default_user == "root:root" and report.errors == []


@needs_root
def test_keepalived_script_is_the_default_user_when_it_exists(dirs, monkeypatch):
    safe, _ = dirs
    monkeypatch.setattr(script_creds, "user_exists", lambda name: name == "keepalived_script")
    loaded = load_config_text(config(safe, security=False, script_user=None))
    assert script_creds.review(loaded).default_user == "keepalived_script"


@needs_root
def test_haipvs_check_refuses_an_insecure_script_and_names_it(dirs, tmp_path, capsys):
    _, unsafe = dirs
    path = tmp_path / "lvs.yaml"
    path.write_text(config(unsafe, security=True))
    assert cli.main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if "vrrp_scripts[chk].script" in x)
    assert line == (f"error: {path}: vrrp_scripts[chk].script: script {unsafe}/ok.sh refused "
                    f"(enable_script_security): {unsafe} is world-writable, a directory "
                    "without the sticky bit (mode 0777); it is not run")
    assert f"{path}: 3 errors" in err


@needs_root
def test_haipvs_check_passes_secure_scripts_and_warns_without_security(dirs, tmp_path, capsys):
    safe, unsafe = dirs
    path = tmp_path / "lvs.yaml"
    path.write_text(config(safe, security=True))
    assert cli.main(["check", str(path)]) == 0
    err = capsys.readouterr().err
    assert "error:" not in err and "warning:" not in err
    path.write_text(config(unsafe, security=False))
    assert cli.main(["check", str(path)]) == 0
    err = capsys.readouterr().err
    assert "There are insecure scripts." in err and "error:" not in err


@needs_root
def test_a_script_run_as_nobody_is_not_protected(dirs):
    """need_script_protection is false for a non-root uid and gid: the unsafe directory is
    allowed for a script run as nobody:nogroup."""
    _, unsafe = dirs
    loaded = load_config_text(config(unsafe, security=True, script_user="nobody:nogroup"))
    report = script_creds.review(loaded)
    assert report.errors == [] and report.disabled == set()
