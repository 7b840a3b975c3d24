"""The `haipvs` command line: check, schema, --version, and the daemon entry (with a stand-in
daemon module, so nothing touches the network)."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

import haipvs
from haipvs import cli

ROOT = Path(__file__).resolve().parents[2]
LVS01 = ROOT / "conf" / "lvs01.yaml"
BROKEN = ROOT / "tests" / "config" / "broken"


def test_check_ok_prints_summary(capsys):
    assert cli.main(["check", str(LVS01), str(ROOT / "conf" / "nat-lab.yaml")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{LVS01}: OK (1 VRRP instance, 1 virtual server, 2 real servers)",
        f"{ROOT / 'conf' / 'nat-lab.yaml'}: OK (1 VRRP instance, 1 virtual server, 2 real servers)",
    ]


def test_check_reports_each_file_and_fails_if_any_fails(capsys):
    broken = BROKEN / "many_errors_all_reported.yaml"
    assert cli.main(["check", str(LVS01), str(broken)]) == 1
    captured = capsys.readouterr()
    assert captured.out == f"{LVS01}: OK (1 VRRP instance, 1 virtual server, 2 real servers)\n"
    # lvs01.yaml's notes (defaults that differ from keepalived) come first, then the errors
    lines = [line for line in captured.err.splitlines() if not line.startswith("note: ")]
    assert lines[-1] == f"{broken}: 7 errors"
    assert all(line.startswith(f"{broken}:") for line in lines)


def test_check_missing_file(capsys, tmp_path):
    assert cli.main(["check", str(tmp_path / "nope.yaml")]) == 1
    assert "nope.yaml: cannot read: No such file or directory" in capsys.readouterr().err


def test_schema_and_version(capsys):
    assert cli.main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["$defs"]["vrrp_instance"]["type"] == "object"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"haipvs {haipvs.__version__}"


def test_check_and_schema_do_not_import_the_runtime():
    code = (
        "import sys; from haipvs.cli import main;"
        f"main(['check', {str(LVS01)!r}]); main(['schema']);"
        "heavy = sorted(m for m in ('trio', 'pyroute2', 'scapy') if m in sys.modules);"
        "print(heavy, file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    # check prints its notes (defaults that differ from keepalived) on stderr first
    assert result.stderr.strip().splitlines()[-1] == "[]"


def test_subcommand_table():
    assert {"check", "schema"} <= set(cli.COMMANDS)
    with pytest.raises(ValueError, match="registered twice"):
        cli.command("check", "again")(lambda args: 0)
    parser = cli.build_parser()
    assert parser.parse_args(["check", "a.yaml"]).run is cli.run_check
    assert parser.parse_args([]).run is cli.run_daemon


@pytest.fixture
def fake_daemon(monkeypatch):
    """Replace haipvs.daemon with a module whose run() records its arguments."""
    calls: list[dict] = []
    module = types.ModuleType("haipvs.daemon")

    def run(config, *, config_path, overrides, release_ipvs=True):
        calls.append({"config": config, "config_path": config_path, "overrides": overrides,
                      "release_ipvs": release_ipvs})
        return 7

    module.run = run
    # The daemon's early signal dispositions are process-wide: keep pytest's own.
    monkeypatch.setattr("haipvs.daemon_signals.install_early", lambda: None)
    monkeypatch.setitem(sys.modules, "haipvs.daemon", module)
    monkeypatch.setattr(haipvs, "daemon", module, raising=False)
    return calls


@pytest.fixture(autouse=True)
def _reset_logging():
    import logging

    import structlog

    yield
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_haipvs", False):
            root.removeHandler(handler)


def test_daemon_gets_config_with_overrides(fake_daemon):
    code = cli.main(["--config", str(LVS01), "--pid-file", "/tmp/p.pid", "--state-dir", "/tmp/s",
                     "--log-format", "json"])
    assert code == 7
    (call,) = fake_daemon
    assert call["config_path"] == str(LVS01)
    assert call["overrides"] == {"pid_file": "/tmp/p.pid", "state_dir": "/tmp/s"}
    assert call["config"].global_settings.router_id == "LVS_01"


def test_daemon_refuses_invalid_config(fake_daemon, capsys):
    broken = BROKEN / "priority_0.yaml"
    assert cli.main(["--config", str(broken), "--log-format", "json"]) == 1
    assert fake_daemon == []
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [e["event"] for e in events] == ["config_invalid"]
    assert events[0]["issue"].startswith(f"{broken}:6: vrrp_instances[0].priority:")


def test_daemon_import_failure_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "haipvs.daemon", None)  # makes the import fail
    monkeypatch.delattr(haipvs, "daemon", raising=False)
    assert cli.main(["--config", str(LVS01), "--log-format", "json"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    event = json.loads(err.splitlines()[-1])
    assert event["event"] == "daemon_unavailable"
    assert event["error"].startswith("cannot load the daemon:")


def test_unknown_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_overrides_survive_reload_comparison():
    """The daemon re-applies --pid-file/--state-dir to a reloaded config, so an unchanged
    file compares equal to the running config."""
    from haipvs.config import load_config
    from haipvs.daemon import with_overrides

    overrides = {"pid_file": "/tmp/p.pid", "state_dir": "/tmp/s"}
    running = with_overrides(load_config(LVS01), overrides)
    assert running.global_settings.state_dir == "/tmp/s"
    assert with_overrides(load_config(LVS01), overrides) == running
