"""The director policy on health changes: a real-server event stamped with the injected time,
then quorum, then the desired table (keepalived/check/ipwrapper.c: a failed real server
leaves its service, or stays at weight 0 with inhibit_on_failure; a dynamic weight replaces
the configured one). IPVS entries do not depend on the VRRP state."""

from __future__ import annotations

from haipvs.events import RealServerChange, VirtualService
from haipvs.ipvs.model import ServiceKey
from haipvs.policy.director import ConfigApplied, ConfigChanged, DesiredIpvs, RefreshIpvs
from haipvs.vrrp.messages import State
from tests.policy.director_support import (
    RS,
    WEB_KEY,
    config,
    director,
    events,
    health,
    kinds,
    of_type,
    transition,
)

CONFIG = """
global:
  lvs_timeouts: {tcp: 900, tcpfin: 30, udp: 60}
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    virtual_ipaddress: [192.0.2.100/24]
virtual_servers:
  - address: 192.0.2.100
    port: 80
    real_servers:
      - {address: 198.51.100.10, port: 8080, weight: 2}
      - {address: 198.51.100.11, port: 8080, inhibit_on_failure: true}
      - {address: 198.51.100.12, port: 8080}
"""
SMALLER = CONFIG.replace("      - {address: 198.51.100.12, port: 8080}\n", "")


def table(out) -> dict[str, int]:
    (desired,) = of_type(out, DesiredIpvs)
    (service,) = desired.table.services
    return {d.address: d.weight for d in service.destinations}


def test_real_server_change_is_an_event_stamped_with_now_then_the_table():
    policy = director(CONFIG)
    out = policy.handle(42.5, health(RS[2], False, reason="connect refused"))
    assert kinds(out) == ["Emit:realserver", "DesiredIpvs"]
    (event,) = events(out)
    assert event == RealServerChange(service=str(WEB_KEY), real_server="198.51.100.12:8080",
                                     up=False, weight=None, reason="connect refused",
                                     at=42.5, virtual=VirtualService(6, "192.0.2.100", 80),
                                     rs_address="198.51.100.12", rs_port=8080,
                                     up_changed=True)
    assert set(event.as_record()) == {"kind", "service", "real_server", "up", "weight",
                                      "reason", "at"}


def test_failed_real_server_leaves_the_service_or_stays_at_weight_zero_when_inhibited():
    policy = director(CONFIG)
    assert table(policy.handle(0.0, RefreshIpvs())) == {RS[0]: 2, RS[1]: 1, RS[2]: 1}
    policy.handle(1.0, health(RS[2], False))
    assert table(policy.handle(2.0, health(RS[1], False))) == {RS[0]: 2, RS[1]: 0}
    assert table(policy.handle(3.0, health(RS[2], True))) == {RS[0]: 2, RS[1]: 0, RS[2]: 1}


def test_dynamic_weight_replaces_the_configured_weight():
    policy = director(CONFIG)
    assert table(policy.handle(0.0, health(RS[0], True, weight=7)))[RS[0]] == 7


def test_desired_ipvs_carries_timeouts_and_owned_services_and_no_sync_daemon():
    (desired,) = of_type(director(CONFIG).handle(0.0, RefreshIpvs()), DesiredIpvs)
    assert desired.owned == {WEB_KEY}
    assert (desired.timeouts.tcp, desired.timeouts.tcpfin, desired.timeouts.udp) == (
        900, 30, 60)
    assert desired.sync_daemons is None


def test_table_is_the_same_on_master_and_backup():
    policy = director(CONFIG)
    before = table(policy.handle(0.0, RefreshIpvs()))
    policy.handle(1.0, transition("VI_1", State.BACKUP, State.MASTER))
    assert table(policy.handle(2.0, RefreshIpvs())) == before


def test_reload_forgets_the_health_of_real_servers_it_removed():
    policy = director(CONFIG)
    policy.handle(0.0, health(RS[2], False))
    policy.handle(1.0, ConfigChanged(config(SMALLER)))
    policy.handle(1.0, ConfigApplied())
    # Back in a later reload, the server counts as up until its checker says otherwise.
    policy.handle(2.0, ConfigChanged(config(CONFIG)))
    assert table(policy.handle(2.0, ConfigApplied())) == {RS[0]: 2, RS[1]: 1, RS[2]: 1}


def test_health_of_a_service_outside_the_config_changes_no_configured_service():
    policy = director(CONFIG)
    other = ServiceKey.inet("UDP", "192.0.2.100", 53)
    out = policy.handle(0.0, health(RS[0], False, service=other))
    assert table(out) == {RS[0]: 2, RS[1]: 1, RS[2]: 1}


def rs_down_events(out) -> list[tuple[str, str, bool, bool]]:
    return [(e.service, e.real_server, e.up, e.up_changed) for e in events(out)
            if isinstance(e, RealServerChange)]


def test_check_clear_diff_rs_tells_each_live_real_server_a_reload_removes_down():
    """keepalived/check/ipwrapper.c clear_diff_services -> clear_diff_rs -> clear_service_rs:
    a real server gone from a kept service is removed from IPVS and, if it was alive,
    notified DOWN (do_rs_notifies: its RS line). One already down is told nothing."""
    policy = director(CONFIG)
    out = policy.handle(1.0, ConfigChanged(config(SMALLER)))
    assert kinds(out) == ["Emit:realserver"]
    assert rs_down_events(out) == [(str(WEB_KEY), "198.51.100.12:8080", False, True)]
    (event,) = events(out)
    assert (event.at, event.reason, event.rs_address, event.rs_port) == (
        1.0, "removed by reload", RS[2], 8080)

    policy = director(CONFIG)
    policy.handle(0.0, health(RS[2], False))
    assert policy.handle(1.0, ConfigChanged(config(SMALLER))) == []


def test_check_clear_service_vs_tells_the_live_real_servers_of_a_removed_service_down():
    """ipwrapper.c clear_diff_services -> clear_service_vs(vs, false) -> clear_service_rs
    for every real server of a service the reload removes (LVS_NO_FLUSH, the default)."""
    policy = director(CONFIG)
    policy.handle(0.0, health(RS[1], False))
    gone = CONFIG.replace("    port: 80\n", "    port: 8000\n", 1)
    out = policy.handle(1.0, ConfigChanged(config(gone)))
    assert rs_down_events(out) == [(str(WEB_KEY), f"{address}:8080", False, True)
                                   for address in (RS[0], RS[2])]
    # The new service starts as at start: its own quorum, then the table.
    out = policy.handle(1.0, ConfigApplied())
    (quorum,) = [e for e in events(out) if e.kind == "quorum"]
    assert (quorum.service, quorum.up, quorum.initial) == (
        "TCP 192.0.2.100:8000", True, True)
