"""Host side of the harness self-test: boots the qemu guest and checks what comes back."""

import importlib
import os
import secrets
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # pytest run as a script does not put the repo on sys.path
    sys.path.insert(0, str(REPO_ROOT))
harness = importlib.import_module("integration.qemu.harness")

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(
        os.environ.get("HAIPVS_GUEST") == "1", reason="already inside the guest; no nested qemu"
    ),
    pytest.mark.skipif(
        harness.unavailable_reason() is not None,
        reason=f"qemu guest unavailable: {harness.unavailable_reason()}",
    ),
]


def test_guest_pytest_session_passes_and_returns_junit(tmp_path):
    junit = tmp_path / "guest-junit.xml"

    result = harness.assert_guest_pytest_passes(
        ["integration/qemu_harness_test/test_in_guest.py"], junit, timeout=600
    )

    assert result.returncode == 0
    assert result.junit_path == junit
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("hostname") == "haipvs-guest"
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("0", "0", "0")
    assert int(suite.get("tests")) >= 5


def test_exit_status_comes_back_and_guest_writes_stay_in_the_guest():
    probe = REPO_ROOT / "integration" / "qemu" / "build" / f"guest-probe-{secrets.token_hex(4)}"
    script = f'echo "guest says $HAIPVS_GUEST"; touch {probe} && test -e {probe} && exit 7'

    result = harness.run_in_guest(["sh", "-c", script], timeout=300)

    assert result.returncode == 7, harness.failure_summary(result) or result.stdout
    assert result.stdout == "guest says 1\n"
    assert not probe.exists()


def test_run_past_the_timeout_is_killed_and_reported():
    result = harness.run_in_guest(["sleep", "600"], timeout=20)

    assert result.timed_out
    assert result.returncode == harness.EXIT_TIMEOUT
    assert "timeout" in harness.failure_summary(result, 20)


def test_failing_guest_session_fails_the_host_test_with_its_output(tmp_path):
    junit = tmp_path / "guest-junit.xml"

    with pytest.raises(pytest.fail.Exception, match="guest pytest exited 5") as failure:
        harness.assert_guest_pytest_passes(
            ["integration/qemu_harness_test/test_in_guest.py"],
            junit,
            pytest_args=["-k", "no_test_has_this_name"],
            timeout=600,
        )

    assert "deselected" in str(failure.value)
    assert ET.parse(junit).getroot().find("testsuite").get("tests") == "0"
