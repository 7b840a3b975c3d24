"""haipvs/optimized.py: the daemon runs under -OO (its docstrings are ~1.8 MiB of an idle
director's RSS), re-executed in the same process from its own command line only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from haipvs.optimized import optimized_argv

ROOT = Path(__file__).resolve().parents[2]


def test_the_command_line_gains_oo_and_keeps_every_other_flag():
    assert optimized_argv(["python3", "-I", "-X", "importtime", "-m", "haipvs", "--config", "c"],
                          "/usr/lib/haipvs/bin/python3", 0) == [
        "/usr/lib/haipvs/bin/python3", "-OO", "-I", "-X", "importtime", "-m", "haipvs",
        "--config", "c"]
    assert optimized_argv(["/v/bin/python", "/v/bin/haipvs", "--config", "c"], "/v/bin/python",
                          1) == ["/v/bin/python", "-OO", "/v/bin/haipvs", "--config", "c"]


def test_no_second_exec_once_optimized_or_without_an_interpreter():
    assert optimized_argv(["python3", "-OO", "-m", "haipvs"], "/usr/bin/python3", 2) is None
    assert optimized_argv(["python3", "-m", "haipvs"], "", 0) is None


def run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False,
                          timeout=60)


def test_the_daemon_from_its_command_line_runs_again_under_oo_in_the_same_process(tmp_path):
    # the config does not exist: the daemon stops at reading it, after the exec
    out = run("import os, sys\n"
              "print('optimize', sys.flags.optimize, os.getpid(), flush=True)\n"
              "from haipvs.cli import main\n"
              "raise SystemExit(main())\n",
              "--config", str(tmp_path / "missing.yaml"), "--log-format", "json")
    lines = [line.split() for line in out.stdout.splitlines() if line.startswith("optimize")]
    assert out.returncode == 1, out.stderr
    assert [line[1] for line in lines] == ["0", "2"]
    assert lines[0][2] == lines[1][2]  # one PID


def test_other_subcommands_and_main_with_arguments_are_not_re_executed(tmp_path):
    config = tmp_path / "missing.yaml"
    out = run("import sys\n"
              "print('optimize', sys.flags.optimize, flush=True)\n"
              "from haipvs.cli import main\n"
              f"main(['--config', {str(config)!r}, '--log-format', 'json'])\n"
              "main(['check', sys.argv[1]])\n", str(config))
    assert [line for line in out.stdout.splitlines() if line.startswith("optimize")] == [
        "optimize 0"]


def test_the_process_keeps_its_name_through_the_exec(tmp_path):
    # `pidof haipvs` / `pkill -HUP haipvs` find the daemon by the name of the file it was
    # started as (the console script); an exec of the interpreter would rename it python3
    script = tmp_path / "haipvs"
    script.write_text(f"#!{sys.executable}\n"
                      "import os, sys\n"
                      f"sys.path.insert(0, {str(ROOT)!r})\n"
                      "from haipvs.optimized import reexec\n"
                      "reexec()\n"
                      "print(sys.flags.optimize, open('/proc/self/comm').read().strip(),\n"
                      "      os.environ.get('HAIPVS_PROCESS_NAME'), flush=True)\n")
    script.chmod(0o755)
    out = subprocess.run([str(script)], capture_output=True, text=True, check=False, timeout=60)
    assert out.stdout.split() == ["2", "haipvs", "None"], out.stderr
