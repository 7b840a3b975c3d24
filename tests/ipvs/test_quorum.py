"""Quorum with hysteresis: the state machine, and what it does to the desired IPVS table."""

import dataclasses
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haipvs.config import ConfigError, load_config_text
from haipvs.config.model import (
    Config,
    GlobalSettings,
    RealServer,
    SorryServer,
    VirtualAddress,
    VirtualServer,
    VrrpInstance,
)
from haipvs.ipvs.desired import (
    RealServerHealth,
    StaticHealth,
    desired_table,
    dest_key,
    live_weight,
    quorum_input,
    service_key,
)
from haipvs.ipvs.quorum import (
    QuorumChange,
    QuorumInput,
    QuorumTracker,
    initial_quorum,
    next_quorum,
)
from haipvs.policy.ha_suspend import ha_suspended_services
from haipvs.vrrp.messages import State

ip = ipaddress.ip_address


def rs(address, weight=1, **kw):
    return RealServer(address=ip(address), port=8080, weight=weight, **kw)


# Live weights 1 + 2 + 3 = 6.
WEB = VirtualServer(
    protocol="TCP", address=ip("192.0.2.100"), port=80, lb_algo="wrr",
    real_servers=(rs("198.51.100.10", 1), rs("198.51.100.11", 2), rs("198.51.100.12", 3)),
    sorry_server=SorryServer(address=ip("198.51.100.99"), port=8080),
    quorum=5, hysteresis=1,
)
KEY = service_key(WEB)


def config(*vss, instances=()):
    return Config(source="test.yaml", global_settings=GlobalSettings(router_id="t"),
                  virtual_servers=vss, vrrp_instances=instances)


def down(vs, *addresses):
    key = service_key(vs)
    return StaticHealth({(key, dest_key(r)): RealServerHealth(False)
                         for r in vs.real_servers if str(r.address) in addresses})


def addresses(table, key=KEY):
    return [(d.address, d.weight) for d in table.get(key).destinations]


# -- the state machine ------------------------------------------------------------------------


def test_hysteresis_band_holds_the_previous_state():
    tracker = QuorumTracker()
    feed = [6, 4, 3, 5, 2, 4, 5, 6, 0]  # quorum 4, hysteresis 1: lose < 3, regain >= 5
    seen = []
    for weight in feed:
        changes = tracker.update([QuorumInput("svc", weight, quorum=4, hysteresis=1)])
        seen.append((weight, tracker.states["svc"], [(c.up, c.weight) for c in changes]))
    assert seen == [
        (6, True, [(True, 6)]),  # the starting state: up (ipwrapper.c update_quorum_state)
        (4, True, []),
        (3, True, []),
        (5, True, []),
        (2, False, [(False, 2)]),
        (4, False, []),
        (5, True, [(True, 5)]),
        (6, True, []),
        (0, False, [(False, 0)]),
    ]


def test_start_needs_quorum_plus_hysteresis_and_reports_a_down_start():
    tracker = QuorumTracker()
    changes = tracker.update([QuorumInput("a", 4, 4, 1), QuorumInput("b", 5, 4, 1)])
    assert changes == [QuorumChange("b", True, 5, initial=True)]  # "a": no sorry server
    assert dict(tracker.states) == {"a": False, "b": True}


def test_services_dropped_from_the_input_are_forgotten():
    tracker = QuorumTracker()
    tracker.update([QuorumInput("a", 0), QuorumInput("b", 1)])
    assert tracker.update([QuorumInput("b", 1)]) == []
    assert dict(tracker.states) == {"b": True}
    # Back again: a fresh start, reported as such.
    assert tracker.update([QuorumInput("a", 0, sorry_server=True), QuorumInput("b", 1)]) == [
        QuorumChange("a", False, 0, initial=True)]


def test_no_live_weight_never_has_quorum():
    assert next_quorum(True, 0, quorum=1, hysteresis=1) is False
    assert next_quorum(True, 0, quorum=1, hysteresis=0) is False


@given(st.booleans(), st.integers(0, 50), st.integers(1, 20), st.integers(0, 19))
def test_thresholds(previous, weight, quorum, hysteresis):
    hysteresis = min(hysteresis, quorum - 1)
    now = next_quorum(previous, weight, quorum, hysteresis)
    if weight >= quorum + hysteresis:
        assert now
    elif weight < quorum - hysteresis:
        assert not now
    else:
        assert now == previous
    if hysteresis == 0:  # the default: plainly "live weight reaches quorum"
        assert now == (weight >= quorum) == initial_quorum(weight, quorum, 0)


# -- the desired table ------------------------------------------------------------------------


def test_live_weight_counts_up_servers_with_their_dynamic_weight():
    health = StaticHealth({
        (KEY, dest_key(WEB.real_servers[0])): RealServerHealth(False),
        (KEY, dest_key(WEB.real_servers[2])): RealServerHealth(True, weight=10),
    })
    assert live_weight(WEB, health) == 12
    assert quorum_input(WEB, health) == QuorumInput(KEY, 12, 5, 1)


def test_sorry_server_replaces_live_servers_while_quorum_is_lost():
    health = down(WEB, "198.51.100.12")  # live weight 3
    # Without a state, the starting rule applies: 3 < 5 + 1.
    assert addresses(desired_table(config(WEB), health)) == [("198.51.100.99", 1)]
    # The tracked state decides: while it says up, the live servers stay.
    assert addresses(desired_table(config(WEB), health, {KEY: True})) == [
        ("198.51.100.10", 1), ("198.51.100.11", 2)]
    assert addresses(desired_table(config(WEB), None, {KEY: False})) == [("198.51.100.99", 1)]


def test_inhibited_servers_stay_at_weight_zero_beside_the_sorry_server():
    vs = dataclasses.replace(WEB, inhibit_on_failure=True)
    table = desired_table(config(vs), down(vs, "198.51.100.12"), {KEY: False})
    assert addresses(table) == [("198.51.100.12", 0), ("198.51.100.99", 1)]


def test_without_a_sorry_server_losing_quorum_changes_no_destination():
    vs = dataclasses.replace(WEB, sorry_server=None)
    table = desired_table(config(vs), down(vs, "198.51.100.12"), {KEY: False})
    assert addresses(table) == [("198.51.100.10", 1), ("198.51.100.11", 2)]


def test_default_quorum_puts_the_sorry_server_in_only_when_nothing_is_up():
    vs = dataclasses.replace(WEB, quorum=1, hysteresis=0)
    assert addresses(desired_table(config(vs), down(vs, "198.51.100.10", "198.51.100.11"))
                     ) == [("198.51.100.12", 3)]
    assert addresses(desired_table(config(vs), down(
        vs, "198.51.100.10", "198.51.100.11", "198.51.100.12"))) == [("198.51.100.99", 1)]


# -- ha_suspend -------------------------------------------------------------------------------


def instance(name, *vips):
    return VrrpInstance(name=name, interface="eth0", virtual_router_id=len(name),
                        virtual_ipaddress=tuple(VirtualAddress(ipaddress.ip_interface(v))
                                                for v in vips))


def test_ha_suspend_follows_the_instance_holding_the_address():
    held = dataclasses.replace(WEB, ha_suspend=True)
    unheld = dataclasses.replace(WEB, port=81, address=ip("192.0.2.200"), ha_suspend=True)
    plain = dataclasses.replace(WEB, port=82)
    mark = VirtualServer(fwmark=3, ha_suspend=True)
    cfg = config(held, unheld, plain, mark,
                 instances=(instance("VI_1", "192.0.2.100/24"), instance("VI_2", "192.0.2.1")))
    keys = [service_key(v) for v in (held, unheld, plain, mark)]
    for states, suspended in (({}, True), ({"VI_1": State.BACKUP}, True),
                              ({"VI_1": State.FAULT}, True), ({"VI_1": State.MASTER}, False)):
        assert ha_suspended_services(cfg, states) == dict(
            zip(keys, [suspended, False, False, False], strict=True)), states


def test_ha_suspend_with_the_address_in_two_instances_needs_one_master():
    held = dataclasses.replace(WEB, ha_suspend=True)
    cfg = config(held, instances=(instance("VI_1", "192.0.2.100"),
                                  instance("VI_2", "192.0.2.100")))
    assert ha_suspended_services(cfg, {"VI_1": State.BACKUP, "VI_2": State.BACKUP}) == {
        KEY: True}
    assert ha_suspended_services(cfg, {"VI_1": State.BACKUP, "VI_2": State.MASTER}) == {
        KEY: False}


# -- config -----------------------------------------------------------------------------------

QUORUM_YAML = """
virtual_servers:
  - address: 192.0.2.100
    port: 80
    quorum: {quorum}
    hysteresis: {hysteresis}
    quorum_up: "/usr/local/bin/vs-up 'web pool' up"
    quorum_down: [/usr/local/bin/vs-down, web]
    ha_suspend: true
    real_servers:
      - {{address: 198.51.100.10, port: 8080, weight: 3}}
"""


def test_config_reads_quorum_settings():
    vs = load_config_text(QUORUM_YAML.format(quorum=3, hysteresis=2)).virtual_servers[0]
    assert (vs.quorum, vs.hysteresis, vs.ha_suspend) == (3, 2, True)
    assert tuple(vs.quorum_up) == ("/usr/local/bin/vs-up", "web pool", "up")
    assert tuple(vs.quorum_down) == ("/usr/local/bin/vs-down", "web")
    defaults = VirtualServer()
    assert (defaults.quorum, defaults.hysteresis, defaults.ha_suspend) == (1, 0, False)


def test_config_rejects_hysteresis_not_below_quorum():
    with pytest.raises(ConfigError, match="hysteresis 2 must be below quorum 2"):
        load_config_text(QUORUM_YAML.format(quorum=2, hysteresis=2))
    with pytest.raises(ConfigError, match="quorum"):
        load_config_text(QUORUM_YAML.format(quorum=0, hysteresis=0))
