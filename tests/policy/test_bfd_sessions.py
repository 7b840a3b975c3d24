"""BFD session state from BIRD 2.0.12's control socket (haipvs.policy.bfd_sessions), and
keepalived 2.2.7's track_bfd (vrrp_track.c initialise_track_bfd_state, vrrp_scheduler.c
vrrp_handle_bfd_event) rule.

The replies under data/ are bytes captured from BIRD 2.0.12's socket (two BIRDs in two
namespaces, a `protocol bfd` with 100 ms x 3, neighbor 192.0.2.102 up and 192.0.2.103
absent; then the peer's BIRD killed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from haipvs.policy.bfd_sessions import (
    BfdSessions,
    BirdReplyError,
    Polled,
    ReplyFramer,
    SessionChanged,
    SessionRow,
    SessionSpec,
    Unreachable,
    parse_sessions,
    session_up,
    track_bfd,
)
from haipvs.policy.priority import NOTHING, Contribution

DATA = Path(__file__).parent / "data"


def _reply(name: str) -> list:
    replies = ReplyFramer().feed((DATA / name).read_bytes())
    assert len(replies) == 1
    return replies[0]


def _rows(name: str) -> tuple[SessionRow, ...]:
    return tuple(parse_sessions(_reply(name)))


def test_bird_control_protocol_reply_ends_at_a_code_followed_by_a_space():
    framer = ReplyFramer()
    data = (DATA / "bird_2_0_12_show_bfd_sessions_up.txt").read_bytes()
    # byte by byte: nothing is complete until the final "0000 " line
    replies = [reply for byte in data for reply in framer.feed(bytes([byte]))]
    assert len(replies) == 1 and replies[0][-1].code == "0000" and replies[0][-1].last
    hello = ReplyFramer().feed((DATA / "bird_2_0_12_hello.txt").read_bytes())
    assert hello[0][0].code == "0001" and "BIRD 2.0.12" in hello[0][0].text


def test_show_bfd_sessions_rows_of_bird_2_0_12():
    assert _rows("bird_2_0_12_show_bfd_sessions_up.txt") == (
        SessionRow("bfd1", "192.0.2.103", "fva", "Down"),
        SessionRow("bfd1", "192.0.2.102", "fva", "Up"),
    )


def test_only_state_up_is_up_and_a_missing_session_is_down():
    rows = _rows("bird_2_0_12_show_bfd_sessions_up.txt")
    assert session_up(rows, SessionSpec("peer", "192.0.2.102"))
    assert session_up(rows, SessionSpec("peer", "192.0.2.102", "fva"))
    assert not session_up(rows, SessionSpec("peer", "192.0.2.102", "eth9"))
    assert not session_up(rows, SessionSpec("other", "192.0.2.103"))  # Down
    assert not session_up(rows, SessionSpec("gone", "198.51.100.1"))  # not in BIRD
    init = (SessionRow("bfd1", "192.0.2.102", "fva", "Init"),)
    assert not session_up(init, SessionSpec("peer", "192.0.2.102"))
    down = _rows("bird_2_0_12_show_bfd_sessions_down.txt")
    assert not session_up(down, SessionSpec("peer", "192.0.2.102"))


def test_error_reply_raises():
    with pytest.raises(BirdReplyError, match="9001"):
        parse_sessions(_reply("bird_2_0_12_syntax_error.txt"))


def test_sessions_start_down_and_each_change_is_output_once():
    # keepalived vrrp_track.c alloc_vrrp_tracked_bfd: bfd_up = false at start
    sessions = BfdSessions([SessionSpec("peer", "192.0.2.102"), SessionSpec("x", "192.0.2.103")])
    up = Polled(_rows("bird_2_0_12_show_bfd_sessions_up.txt"))
    down = Polled(_rows("bird_2_0_12_show_bfd_sessions_down.txt"))
    assert sessions.snapshot() == {"peer": False, "x": False}
    assert sessions.handle(1.0, up) == [SessionChanged("peer", True, 1.0)]
    assert sessions.handle(1.1, up) == []
    assert sessions.handle(1.2, down) == [SessionChanged("peer", False, 1.2)]
    assert sessions.handle(1.3, up) == [SessionChanged("peer", True, 1.3)]
    # BIRD gone: every session down
    assert sessions.handle(1.4, Unreachable("connection refused")) == [
        SessionChanged("peer", False, 1.4)]
    assert sessions.since["peer"] == 1.4


def test_track_bfd_without_weight_is_a_fault_while_down():
    assert track_bfd("peer", 0, up=True) == NOTHING
    assert track_bfd("peer", 0, up=False) == Contribution(fault="track_bfd peer is down")
    # reverse: up is the fault (vrrp_scheduler.c: bfd_up == (multiplier == 1) -> try_up)
    assert track_bfd("peer", 0, up=True, reverse=True).fault == "track_bfd peer is up"
    assert track_bfd("peer", 0, up=False, reverse=True) == NOTHING


def test_track_bfd_weight_moves_priority_by_abs_weight_between_up_and_down():
    # vrrp_scheduler.c vrrp_handle_bfd_event: total_priority +/- abs(weight) x multiplier
    for weight in (10, -10):
        for reverse in (False, True):
            up = track_bfd("p", weight, True, reverse).delta
            down = track_bfd("p", weight, False, reverse).delta
            assert up - down == abs(weight) * (-1 if reverse else 1)
    # initialise_track_bfd_state: positive added while up, negative while down
    assert track_bfd("p", 10, True) == Contribution(delta=10)
    assert track_bfd("p", 10, False) == NOTHING
    assert track_bfd("p", -10, False) == Contribution(delta=-10)
    assert track_bfd("p", -10, True) == NOTHING

