"""`haipvs check` on what a keepalived user brings: a keepalived.conf (pointed to the
importer, not echoed back), and a YAML file relying on defaults that keepalived sets
otherwise (the rows of limits.KEEPALIVED_DIFFERENCES that apply) or on settings keepalived
overrides with a warning (vrrp.c vrrp_complete_instance())."""

from __future__ import annotations

import textwrap
from pathlib import Path

from haipvs import cli

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "importer" / "seed003" / "lvs01.conf"


def test_check_on_a_keepalived_conf_points_to_the_importer(capsys):
    assert cli.main(["check", str(SEED)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{SEED}: this looks like a keepalived.conf, not a haipvs YAML file; translate it with "
        f"`haipvs import-keepalived {SEED} > lvs.yaml` and check lvs.yaml",
        f"{SEED}: 1 error",
    ]


def test_daemon_config_on_a_keepalived_conf_fails_with_the_same_pointer(monkeypatch, capsys):
    # The daemon's early signal dispositions are process-wide: keep pytest's own.
    monkeypatch.setattr("haipvs.daemon_signals.install_early", lambda: None)
    # Logging is process-wide too: keep structlog writing where it did (not to capsys' stream,
    # closed after this test).
    monkeypatch.setattr(cli, "configure_logging", lambda *args: None)
    assert cli.main(["--config", str(SEED)]) == 1
    captured = capsys.readouterr()
    assert "config_invalid" in captured.out + captured.err
    assert f"haipvs import-keepalived {SEED} > lvs.yaml" in captured.out + captured.err


def test_check_prints_warnings_and_the_differences_that_apply(tmp_path, capsys):
    path = tmp_path / "lvs.yaml"
    path.write_text(textwrap.dedent("""\
    vrrp_instances:
      - name: VI_1
        state: MASTER
        preempt: false
        interface: eth0
        virtual_router_id: 51
        virtual_ipaddress: [192.0.2.10]
    virtual_servers:
      - address: 192.0.2.10
        port: 53
        protocol: UDP
        real_servers:
          - address: 198.51.100.1
            port: 53
            dns_check: {warmup: 2}
            misc_check: {path: [/bin/true], user: nobody, warmup: 2}
    """))
    assert cli.main(["check", str(path)]) == 0  # warnings do not fail the check
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{path}: OK")
    assert captured.err.splitlines() == [
        f"warning: {path}: vrrp_instances[VI_1].state: preempt: false does not work with "
        "initial state MASTER; the instance preempts (keepalived: nopreempt will not work "
        "with initial state MASTER - clearing)",
        # keepalived vrrp.c check_vrrp_script_security / check_data.c: any script without
        # enable_script_security (keepalived -t exits 6 for it; haipvs check warns)
        f"warning: {path}: global.enable_script_security: SECURITY VIOLATION - scripts are "
        "being executed but script_security not enabled.",
    ]
    # misc_check.user without a value is keepalived's default now (issue 15): no note
    path.write_text(path.read_text().replace(", user: nobody", ""))
    assert cli.main(["check", str(path)]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert notes == []
