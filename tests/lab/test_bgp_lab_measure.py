"""The bgp lab's measurements from its raw material (haipvs/lab/routemon.py,
haipvs/lab/flowstats.py, haipvs/lab/bird.py): the router's timestamped FIB changes from
`ip -ts monitor route`, the flows moved and failed from the client's log, BIRD's status lines,
and the generated bird.conf files accepted by BIRD 2's own parser (`bird -p`)."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from haipvs.lab import bird
from haipvs.lab.flowstats import flow_stats, parse, read_log, render_stats
from haipvs.lab.routemon import route_events

VIP = "192.0.2.200"
MONITOR = """[2026-12-04T23:17:30.100000] 192.0.2.200 via 198.51.100.2 dev d1 proto bird metric 32
[2026-12-04T23:17:30.200000] 198.51.100.0/30 dev d1 proto kernel scope link src 198.51.100.1
[2026-12-04T23:17:30.300000] 192.0.2.200 proto bird metric 32
\tnexthop via 198.51.100.2 dev d1 weight 1
\tnexthop via 198.51.100.6 dev d2 weight 1
\tnexthop via 198.51.100.10 dev d3 weight 1
[2026-12-04T23:17:31.000000] Deleted 192.0.2.200 proto bird metric 32
\tnexthop via 198.51.100.2 dev d1 weight 1
[2026-12-04T23:17:31.000500] local 192.0.2.200 dev lo table local proto kernel scope host
"""


def stamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_route_events_single_path_multipath_continuation_lines_and_delete():
    events = route_events(MONITOR, VIP)
    assert events == [
        (stamp("2026-12-04T23:17:30.100000"), ["198.51.100.2"]),
        (stamp("2026-12-04T23:17:30.300000"), ["198.51.100.10", "198.51.100.2",
                                               "198.51.100.6"]),
        (stamp("2026-12-04T23:17:31"), []),  # a delete leaves no nexthop
    ]


def test_route_events_ignore_other_prefixes_and_the_local_table_entry():
    assert route_events(MONITOR, "198.51.100.0") == []
    assert len(route_events(MONITOR, VIP)) == 3  # "local 192.0.2.200 ..." is not the route


def line(at: float, flow: int, conn: int, director_ip: str | None) -> str:
    if director_ip is None:
        return f"{at:.3f} {flow} {conn} error TimeoutError"
    return f"{at:.3f} {flow} {conn} ok rs1 via {director_ip}"


DIRECTOR_OF = {"192.0.2.2": "d1", "192.0.2.3": "d2"}.get


def test_flow_stats_a_reset_flow_moves_and_fails_a_kept_connection_moves_only():
    log = [
        line(9.0, 1, 1, "192.0.2.2"), line(9.0, 2, 1, "192.0.2.3"), line(9.0, 3, 1, "192.0.2.2"),
        # the event at 10: flow 1 is reset and reconnects to d2; flow 3 keeps its connection
        line(10.1, 1, 1, None), line(10.2, 1, 2, "192.0.2.3"), line(10.2, 2, 1, "192.0.2.3"),
        line(10.3, 3, 1, "192.0.2.3"),
        line(11.0, 1, 2, "192.0.2.3"), line(11.0, 2, 1, "192.0.2.3"),
        line(11.0, 3, 1, "192.0.2.3"),
    ]
    records = [r for r in map(parse, log) if r is not None]
    stats = flow_stats(records, 10.0, 10.5, "d1", lambda via: DIRECTOR_OF(via) or "unknown")
    assert stats == {"flows": 3, "on_target": 2, "moved": 2, "moved_kept_connection": 1,
                     "moved_reconnected": 1, "failed": 1, "failed_requests": 1,
                     "ok_requests": 6, "served_after": {"d2": 3}}
    text = render_stats(stats, "d1")
    assert "2 were on d1; 2 moved" in text and "1 flows failed (1 failed requests" in text


def test_read_log_from_an_offset_drops_the_cut_line(tmp_path: Path):
    path = tmp_path / "flows.log"
    path.write_text(line(1.0, 1, 1, "192.0.2.2") + "\n" + line(2.0, 2, 1, "192.0.2.3") + "\n")
    assert [r.flow for r in read_log(path)] == [1, 2]
    assert [r.flow for r in read_log(path, 5)] == [2]
    assert read_log(tmp_path / "missing") == []
    assert parse("garbage") is None and parse("x 1 1 ok rs1") is None


def test_birdc_show_protocols_state_and_bgp_info():
    out = """BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     23:17:29.437
d1         BGP        ---        start  23:17:57.916  Connect       Error: BFD session down
d2         BGP        ---        up     2026-12-03 23:17:30  Established
"""
    assert bird.protocol_state(out, "d1") == "start Connect Error: BFD session down"
    assert bird.protocol_state(out, "d2") == "up Established"
    assert bird.protocol_state(out, "d3") == "unknown"


def test_birdc_show_bfd_sessions():
    out = """BIRD 2.0.12 ready.
bfd1:
IP address                Interface  State      Since         Interval  Timeout
198.51.100.1              eth0       Up         23:17:30.201    0.100    0.300
"""
    assert bird.bfd_sessions(out) == ["198.51.100.1 eth0 Up"]


def test_generated_configs_carry_the_issue_17_design():
    director = bird.director_conf("198.51.100.2", "198.51.100.2", "198.51.100.1", "eth0", 201)
    assert "kernel table 201;" in director and "learn;" in director
    assert f"preference {bird.KERNEL_PREFERENCE};" in director and bird.KERNEL_PREFERENCE > 240
    assert "min rx interval 100 ms; min tx interval 100 ms; multiplier 3;" in director
    assert "bfd on;" in director and "export none;" in director  # never writes table 201
    # docs/scale-out.md's export filter: haipvs's routes only, metric -> MED, realm 65535 ->
    # GRACEFUL_SHUTDOWN
    assert "export filter haipvs_export;" in director
    for rule in ("if krt_source != 75 then reject;", "bgp_med = krt_metric;",
                 "if krt_realm = 65535 then bgp_community.add((65535, 0));"):
        assert rule in director
    router = bird.router_conf("203.0.113.1", [bird.Peer("d1", "198.51.100.2", "d1")])
    assert "merge paths yes;" in router and "neighbor 198.51.100.2 as" in router


@pytest.mark.skipif(shutil.which("bird", path="/usr/sbin:/sbin") is None,
                    reason="BIRD 2 is not installed")
def test_generated_configs_parse_with_bird(tmp_path: Path):
    director = tmp_path / "director.conf"
    director.write_text(bird.director_conf("198.51.100.2", "198.51.100.2", "198.51.100.1",
                                           "eth0", 201))
    bird.check_conf(str(director))
    router = tmp_path / "router.conf"
    router.write_text(bird.router_conf("203.0.113.1", [
        bird.Peer(f"d{n}", f"198.51.100.{4 * n - 2}", f"d{n}") for n in (1, 2, 3)]))
    bird.check_conf(str(router))
    broken = tmp_path / "broken.conf"
    broken.write_text("protocol bgp router { }\n")  # `router` is a BIRD keyword
    with pytest.raises(ValueError, match=r"broken\.conf"):
        bird.check_conf(str(broken))
