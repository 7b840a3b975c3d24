"""conf/bird-haipvs.conf, the documented director snippet (issue 17, docs/scale-out.md), stays
true to what haipvs writes and to the lab's generated director config (haipvs/lab/bird.py):

- BIRD 2's own parser (`bird -p`) accepts the file as shipped;
- its defines name haipvs's kernel table, route proto and GRACEFUL_SHUTDOWN realm as
  haipvs/limits.py has them (haipvs/drivers/route_table.py writes routes with those marks);
- its export filter, kernel protocol and BFD timers are the lab's, rule for rule, so the lab
  measures the configuration operators are told to run.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from haipvs import limits
from haipvs.lab import bird

CONF = Path(__file__).resolve().parents[2] / "conf" / "bird-haipvs.conf"


def _define(text: str, name: str) -> str:
    match = re.search(rf"^define {name} = ([^;]+);", text, re.M)
    assert match, f"{CONF}: no 'define {name}'"
    return match[1].strip()


def _block(text: str, header: str) -> list[str]:
    """The statements of the block opened by `header` (nested braces kept), one per line,
    comments and blank lines dropped."""
    start = text.index(header)
    depth, lines = 0, []
    for line in text[start:].splitlines():
        depth += line.count("{") - line.count("}")
        code = line.split("#", 1)[0].strip()
        if code:
            lines.append(code)
        if depth == 0 and "}" in line:
            return lines
    raise AssertionError(f"{header!r} is not closed")


def _with_defines(text: str) -> str:
    """The snippet's define names replaced by their values, as BIRD reads them."""
    for name in ("HAIPVS_TABLE", "HAIPVS_PROTO", "HAIPVS_GSHUT_REALM"):
        text = re.sub(rf"\b{name}\b(?! =)", _define(text, name), text)
    return text


def test_defines_are_haipvs_marks_from_limits():
    text = CONF.read_text()
    assert int(_define(text, "HAIPVS_TABLE")) == limits.SCALE_OUT_DEFAULT_TABLE
    assert int(_define(text, "HAIPVS_PROTO")) == limits.HAIPVS_RT_PROTO
    assert int(_define(text, "HAIPVS_GSHUT_REALM")) == limits.GRACEFUL_SHUTDOWN_REALM
    community = "bgp_community.add(({}, {}))".format(*limits.GRACEFUL_SHUTDOWN_COMMUNITY)
    assert community in text


def test_export_filter_kernel_protocol_and_bfd_match_the_lab_director_conf():
    shipped = _with_defines(CONF.read_text())
    lab = bird.director_conf("198.51.100.2", "198.51.100.2", "198.51.100.1", "eth0",
                             limits.SCALE_OUT_DEFAULT_TABLE)
    assert _block(shipped, "filter haipvs_export") == _block(lab, "filter haipvs_export")
    assert (_block(shipped, "protocol kernel haipvs_table")
            == _block(lab, "protocol kernel haipvs_table"))
    # preference above protocol direct's 240: haipvs's route wins over the VIP's /32 on lo
    assert f"preference {bird.KERNEL_PREFERENCE};" in shipped and bird.KERNEL_PREFERENCE > 240
    bfd = " ".join(_block(shipped, "protocol bfd"))
    for timer in (f"min rx interval {bird.BFD_INTERVAL_MS} ms;",
                  f"min tx interval {bird.BFD_INTERVAL_MS} ms;",
                  f"multiplier {bird.BFD_MULTIPLIER};"):
        assert timer in bfd
    uplink = " ".join(_block(shipped, "template bgp haipvs_uplink"))
    for statement in ("bfd on;", "import none;", "export filter haipvs_export;",
                      "table haipvs_vips;"):
        assert statement in uplink


@pytest.mark.skipif(shutil.which("bird", path="/usr/sbin:/sbin") is None,
                    reason="BIRD 2 is not installed (Debian bird2)")
def test_bird_parses_the_shipped_file(tmp_path: Path):
    bird.check_conf(str(CONF))
    # ... and says where a broken copy is wrong (check_conf's error names the file)
    broken = tmp_path / "bird.conf"
    broken.write_text(CONF.read_text().replace("bgp_med = krt_metric;", "bgp_med = ;"))
    with pytest.raises(ValueError, match=r"bird\.conf"):
        bird.check_conf(str(broken))
