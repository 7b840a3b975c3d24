"""Every real-IPVS test, run inside one qemu guest boot (this host's kernel has no IPVS).

The guest boots Debian's kernel with the ip_vs modules and shares this checkout, so the
tests below run against the kernel's real IPVS table. One boot per session: the guest is
15-30x slower than the host and most of a small session is start-up.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from integration.qemu import harness

GUEST_TEST_PATHS = [
    "integration/qemu_harness_test/test_in_guest.py",
    "integration/qemu_tests",
]


@pytest.mark.qemu
def test_real_ipvs_session_in_guest(tmp_path):
    junit = tmp_path / "guest-junit.xml"
    result = harness.assert_guest_pytest_passes(
        GUEST_TEST_PATHS, junit, timeout=2400, mem_mib=768
    )
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    ran = int(suite.get("tests")) - int(suite.get("skipped"))
    # Inside the guest nothing may skip for lack of IPVS: that would hide a broken harness.
    assert int(suite.get("skipped")) == 0, result.stdout[-5000:]
    assert ran > 0 and int(suite.get("failures")) == 0 and int(suite.get("errors")) == 0
