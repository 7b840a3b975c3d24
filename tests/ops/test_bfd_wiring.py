"""track_bfd wiring (haipvs/daemon_bfd.py): what reaches the VRRP thread's set_tracker at
start, on a session change and on reload; keepalived vrrp_track.c initialise_track_bfd_state
(sessions start down) and vrrp.c reload (a session keeps its state)."""

from __future__ import annotations

from haipvs.config import load_config_text
from haipvs.daemon_bfd import BfdWiring, specs
from haipvs.drivers.bird_bfd import BirdBfdClient
from haipvs.policy.bfd_sessions import Polled, SessionChanged, SessionRow
from haipvs.policy.priority import Kind, Source

BASE = """\
bfd:
  sessions: [{name: peer, neighbor: 192.0.2.102}]
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    priority: 100
    virtual_ipaddress: [192.0.2.50/24]
    track_bfd: [TRACK]
"""
PEER = Source(Kind.TRACK_BFD, "peer")


def _config(track: str):
    return load_config_text(BASE.replace("TRACK", track), "bfd.yaml")


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Source, int, str | None]] = []

    def __call__(self, instance, source, *, delta=0, fault=None) -> None:
        self.calls.append((instance, source, delta, fault))


def test_unweighted_track_bfd_starts_in_fault_and_follows_the_session():
    publish, preset = Recorder(), Recorder()
    wiring = BfdWiring(_config("peer"), publish)
    wiring.preset(preset)
    assert preset.calls == [("VI_1", PEER, 0, "track_bfd peer is down")]
    wiring._on_change(SessionChanged("peer", True, 1.0))
    assert publish.calls == [("VI_1", PEER, 0, None)]


def test_reload_with_same_sessions_gives_new_weight_the_current_state():
    publish = Recorder()
    wiring = BfdWiring(_config("peer"), publish)
    # the running client (not connected here) whose last poll saw the session Up
    wiring.client = BirdBfdClient("/nonexistent", specs(wiring.config), 0.1, lambda c: None)
    wiring.client.sessions.handle(1.0, Polled((SessionRow("bfd1", "192.0.2.102", "eth0",
                                                          "Up"),)))
    wiring.update(_config("{name: peer, weight: 20}"))
    assert publish.calls == [("VI_1", PEER, 20, None)]  # up: +20, no FAULT in between
