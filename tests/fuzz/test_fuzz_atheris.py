"""Coverage-guided fuzzing in CI: 50k libFuzzer runs (atheris) each for the VRRP receive path
and the config loader, with a fixed seed. A crash makes libFuzzer exit non-zero and write the
input to the test's directory; turn it into a regression test next to the seeded targets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import atheris  # noqa: F401 - in the [test] extra; missing it must fail, not skip
import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNS = 50_000


@pytest.mark.parametrize("target", ["tests.fuzz.vrrp_target", "tests.fuzz.config_target"])
def test_50k_coverage_guided_runs_find_no_crash(target, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", target, "--atheris", f"-runs={RUNS}", "-seed=20261121",
         f"-artifact_prefix={tmp_path}/", "-print_final_stats=1"],
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
    )
    tail = result.stderr[-4000:]
    assert result.returncode == 0, f"{target} found a crash (input in {tmp_path}):\n{tail}"
    assert f"Done {RUNS} runs" in result.stderr, tail
    assert not list(tmp_path.glob("crash-*")), tail
