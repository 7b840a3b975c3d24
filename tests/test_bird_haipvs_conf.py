"""conf/bird-haipvs.conf, the BIRD 2 config docs/scale-out.md documents for a scale-out
director (issue 17): it parses (`bird -p`) and its defines agree with what haipvs writes
(haipvs/limits.py). integration/test_scale_out_bgp.py runs it for real with a BIRD router."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from haipvs.limits import (
    GRACEFUL_SHUTDOWN_COMMUNITY,
    GRACEFUL_SHUTDOWN_REALM,
    HAIPVS_RT_PROTO,
    SCALE_OUT_DEFAULT_TABLE,
)

CONF = Path(__file__).resolve().parents[1] / "conf" / "bird-haipvs.conf"
BIRD = shutil.which("bird", path="/usr/sbin:/usr/bin")


def defines() -> dict[str, str]:
    return dict(re.findall(r"^define (\w+) = ([^;]+);", CONF.read_text(), flags=re.M))


def test_defines_match_the_table_proto_and_realm_haipvs_writes():
    found = defines()
    assert int(found["HAIPVS_TABLE"]) == SCALE_OUT_DEFAULT_TABLE
    assert int(found["HAIPVS_PROTO"]) == HAIPVS_RT_PROTO
    assert int(found["HAIPVS_GSHUT_REALM"]) == GRACEFUL_SHUTDOWN_REALM


def test_export_filter_takes_only_haipvs_routes_med_and_rfc8326_community():
    text = CONF.read_text()
    assert "if krt_source != HAIPVS_PROTO then reject;" in text
    assert "if source != RTS_INHERIT then reject;" in text
    assert "bgp_med = krt_metric;" in text
    community = "bgp_community.add(({}, {}))".format(*GRACEFUL_SHUTDOWN_COMMUNITY)
    assert f"if krt_realm = HAIPVS_GSHUT_REALM then {community};" in text
    # learned, never written back; preferred over protocol direct (240)
    assert re.search(r"kernel table HAIPVS_TABLE;\s*learn;", text)
    assert re.search(r"preference 250;\s*import all;\s*export none;", text)
    # BFD 100 ms x 3
    assert "min rx interval 100 ms;" in text and "multiplier 3;" in text


@pytest.mark.skipif(BIRD is None, reason="bird not installed (Debian package bird2)")
def test_bird_parses_it():
    proc = subprocess.run([BIRD, "-p", "-c", str(CONF)], capture_output=True, text=True,
                          timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
