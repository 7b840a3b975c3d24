"""keepalived's virtual-server quorum with hysteresis (keepalived/check/ipwrapper.c
update_quorum_state; settings in keepalived/check/check_data.c): the rule, the tracker, and
what the director does on a change (event, log line, quorum_up/quorum_down script)."""

from __future__ import annotations

from haipvs.events import QuorumEvent, VirtualService
from haipvs.policy.director import DesiredIpvs, Log, RefreshIpvs
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


def test_check_quorum_tracker_reports_changes_and_an_initial_loss():
    tracker = QuorumTracker()
    assert tracker.update([QuorumInput("a", 5, QUORUM, H), QuorumInput("b", 0, QUORUM, H)]) == [
        QuorumChange("b", False, 0, initial=True)]
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
        "HAIPVS_WEIGHT": "0", "HAIPVS_QUORUM": "2", "HAIPVS_HYSTERESIS": "1"})
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


def test_check_quorum_start_without_quorum_reports_an_initial_loss():
    policy = director(QUORUM_CONFIG)
    # The checkers start (alpha: down): the first look at the service finds 2 < 2 + 1.
    out = policy.handle(0.0, health(RS[0], False))
    (event,) = [e for e in events(out) if isinstance(e, QuorumEvent)]
    assert (event.initial, event.up, event.weight) == (True, False, 2)
    assert of_type(out, RunNotify)[0].env["HAIPVS_STATE"] == "DOWN"
    out = policy.handle(0.0, health(RS[1], False))
    assert [e for e in events(out) if isinstance(e, QuorumEvent)] == []
