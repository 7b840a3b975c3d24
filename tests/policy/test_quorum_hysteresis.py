"""keepalived's virtual-server quorum with hysteresis (keepalived/check/ipwrapper.c
update_quorum_state; settings in keepalived/check/check_data.c): the rule, the tracker, and
what the director does on a change (event, log line, quorum_up/quorum_down script)."""

from __future__ import annotations

from haipvs.events import QuorumEvent, VirtualService
from haipvs.policy.director import DesiredIpvs, Log, RefreshIpvs, Start
from haipvs.policy.notify_scripts import RunNotify
from haipvs.policy.quorum import (
    QuorumChange,
    QuorumInput,
    QuorumTracker,
    initial_quorum,
    next_quorum,
)
from tests.policy.director_support import RS, WEB_KEY, director, events, health, kinds, of_type

QUORUM, H = 4, 1  # lost below 3, regained at 5


def test_check_quorum_starts_up_only_at_quorum_plus_hysteresis():
    assert initial_quorum(5, QUORUM, H) is True
    assert initial_quorum(4, QUORUM, H) is False  # at quorum, but inside the band


def test_check_quorum_hysteresis_loses_below_quorum_minus_h():
    assert next_quorum(True, 3, QUORUM, H) is True  # quorum - h still holds
    assert next_quorum(True, 2, QUORUM, H) is False


def test_check_quorum_hysteresis_regains_at_quorum_plus_h():
    assert next_quorum(False, 4, QUORUM, H) is False
    assert next_quorum(False, 5, QUORUM, H) is True


def test_check_quorum_is_lost_without_any_live_weight():
    # Even where quorum - h would allow 0 (the config refuses h >= quorum; the rule does
    # not rely on it): no live real server is no quorum.
    assert next_quorum(True, 0, 1, 1) is False


def test_check_quorum_tracker_reports_changes_and_a_start_with_quorum():
    tracker = QuorumTracker()
    # ipwrapper.c update_quorum_state(vs, init=true): "a" starts with its quorum (told UP);
    # "b" starts without it and has no sorry server (told nothing).
    assert tracker.update([QuorumInput("a", 5, QUORUM, H), QuorumInput("b", 0, QUORUM, H)]) == [
        QuorumChange("a", True, 5, initial=True)]
    assert tracker.update([QuorumInput("a", 3, QUORUM, H), QuorumInput("b", 4, QUORUM, H)]) == []
    assert tracker.update([QuorumInput("a", 2, QUORUM, H), QuorumInput("b", 5, QUORUM, H)]) == [
        QuorumChange("a", False, 2), QuorumChange("b", True, 5)]
    # A service dropped by a reload is forgotten: it comes back with its start-up rule.
    tracker.update([QuorumInput("a", 2, QUORUM, H)])
    assert dict(tracker.states) == {"a": False}


QUORUM_CONFIG = """
virtual_servers:
  - address: 192.0.2.100
    port: 80
    quorum: 2
    hysteresis: 1
    quorum_up: [/bin/up, web]
    quorum_down: [/bin/down]
    sorry_server: {address: 198.51.100.99, port: 8080}
    real_servers:
      - {address: 198.51.100.10, port: 8080}
      - {address: 198.51.100.11, port: 8080}
      - {address: 198.51.100.12, port: 8080}
"""


def destinations(out) -> list[str]:
    (table,) = of_type(out, DesiredIpvs)
    (service,) = table.table.services
    return sorted(d.address for d in service.destinations)


def test_check_quorum_loss_emits_event_logs_runs_quorum_down_then_sorry_server():
    policy = director(QUORUM_CONFIG)
    assert destinations(policy.handle(0.0, RefreshIpvs())) == list(RS)  # 3 >= 2 + 1
    policy.handle(1.0, health(RS[0], False))
    out = policy.handle(2.0, health(RS[1], False))  # 1 live: still >= 2 - 1
    assert of_type(out, Log) == [] and destinations(out) == [RS[2]]
    out = policy.handle(3.0, health(RS[2], False))
    assert kinds(out) == ["Emit:realserver", "Emit:quorum", "Log", "RunNotify", "DesiredIpvs"]
    assert events(out)[1] == QuorumEvent(service=str(WEB_KEY), up=False, weight=0,
                                         initial=False, at=3.0,
                                         virtual=VirtualService(6, "192.0.2.100", 80))
    assert of_type(out, Log) == [Log("quorum_lost", {"service": str(WEB_KEY), "weight": 0,
                                                      "quorum": 2, "hysteresis": 1})]
    (run,) = of_type(out, RunNotify)
    assert run == RunNotify(f"quorum:{WEB_KEY}", (("/bin/down",),), {
        "HAIPVS_TYPE": "QUORUM", "HAIPVS_SERVICE": str(WEB_KEY), "HAIPVS_STATE": "DOWN",
        "HAIPVS_WEIGHT": "0", "HAIPVS_QUORUM": "2", "HAIPVS_HYSTERESIS": "1"}, (None,))
    assert destinations(out) == ["198.51.100.99"]
    assert policy.quorum.states == {WEB_KEY: False}


def test_check_quorum_regained_only_at_quorum_plus_h_runs_quorum_up():
    policy = director(QUORUM_CONFIG)
    policy.handle(0.0, RefreshIpvs())
    for t, address in enumerate(RS):
        policy.handle(float(t), health(address, False))
    policy.handle(5.0, health(RS[0], True))
    out = policy.handle(6.0, health(RS[1], True))  # 2 live: below 2 + 1
    assert of_type(out, RunNotify) == [] and destinations(out) == ["198.51.100.99"]
    out = policy.handle(7.0, health(RS[2], True))
    (run,) = of_type(out, RunNotify)
    assert run.scripts == (("/bin/up", "web"),)
    assert run.env["HAIPVS_STATE"] == "UP" and run.env["HAIPVS_WEIGHT"] == "3"
    assert of_type(out, Log)[0].event == "quorum_gained"
    assert destinations(out) == list(RS)


def quorum_events(out) -> list[tuple[bool, bool, int]]:
    return [(e.initial, e.up, e.weight) for e in events(out) if isinstance(e, QuorumEvent)]


ALPHA = QUORUM_CONFIG.replace("198.51.100.10, port: 8080}",
                              "198.51.100.10, port: 8080, tcp_check: {alpha: true}}")


def test_check_init_services_start_with_quorum_is_gained_quorum():
    """keepalived/check/check_data.c set_quorum_states counts every service down before any
    real server is alive; ipwrapper.c init_service_vs -> update_quorum_state(vs, init=true)
    then finds 3 >= 2 + 1: "Gained quorum", a VS UP line and quorum_up, at start."""
    policy = director(QUORUM_CONFIG, started=False)
    out = policy.handle(0.0, Start())
    assert quorum_events(out) == [(True, True, 3)]
    (run,) = of_type(out, RunNotify)
    assert run.scripts == (("/bin/up", "web"),) and run.env["HAIPVS_STATE"] == "UP"
    assert quorum_events(policy.handle(1.0, RefreshIpvs())) == []  # told once


def test_check_init_services_start_without_quorum_is_told_only_with_a_sorry_server():
    """ipwrapper.c update_quorum_state(vs, init=true): "Starting with quorum down" (VS DOWN,
    quorum_down) only when the service has a sorry server to add; without one, nothing.
    An alpha checker starts failed (init_service_rs adds its server not alive), known from
    the config at Start, not one server at a time as the checkers report it."""
    policy = director(ALPHA, started=False)
    out = policy.handle(0.0, Start())
    assert quorum_events(out) == [(True, False, 2)]
    assert of_type(out, RunNotify)[0].env["HAIPVS_STATE"] == "DOWN"
    # The engine's own report of the alpha server's start "down" changes nothing.
    out = policy.handle(0.1, health(RS[0], False))
    assert quorum_events(out) == [] and events(out)[0].up_changed is False

    no_sorry = ALPHA.replace("    sorry_server: {address: 198.51.100.99, port: 8080}\n", "")
    policy = director(no_sorry, started=False)
    out = policy.handle(0.0, Start())
    assert quorum_events(out) == [] and of_type(out, RunNotify) == []
    assert policy.quorum.states == {WEB_KEY: False}
    out = policy.handle(2.0, health(RS[0], True))  # its first success: 3 >= 2 + 1
    assert quorum_events(out) == [(False, True, 3)]
