"""keepalived's ha_suspend (keepalived/check/check_api.c update_checker_activity): the checks
of a virtual server stop while no VRRP instance holding its address is MASTER, and resume
when one becomes MASTER; health keeps its last state meanwhile. Driven through the director
policy with injected time."""

from __future__ import annotations

import dataclasses

from haipvs.ipvs.model import DestKey, ServiceKey
from haipvs.policy.director import (
    ConfigApplied,
    ConfigChanged,
    DesiredIpvs,
    Log,
    ResumeChecks,
    Start,
    SuspendChecks,
)
from haipvs.policy.ha_suspend import ha_suspended_services
from haipvs.vrrp.messages import State
from tests.policy.director_support import WEB_KEY, config, director, health, of_type, transition

INIT, BACKUP, MASTER, FAULT, STOP = (State.INIT, State.BACKUP, State.MASTER, State.FAULT,
                                     State.STOP)
OTHER_KEY = ServiceKey.inet("TCP", "192.0.2.100", 81)

CONFIG = """
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    virtual_ipaddress: [192.0.2.100/24]
  - name: VI_2
    interface: eth1
    virtual_router_id: 52
    virtual_ipaddress: [192.0.2.200/24]
virtual_servers:
  - address: 192.0.2.100
    port: 80
    ha_suspend: {suspend}
    real_servers:
      - {{address: 198.51.100.10, port: 8080}}
  - address: 192.0.2.100
    port: 81
    real_servers:
      - {{address: 198.51.100.10, port: 8080}}
  - address: 192.0.2.250
    port: 80
    ha_suspend: true
    real_servers:
      - {{address: 198.51.100.10, port: 8080}}
  - fwmark: 3
    ha_suspend: true
    real_servers:
      - {{address: 198.51.100.10, port: 8080}}
"""
ALL_KEYS = {WEB_KEY, OTHER_KEY, ServiceKey.inet("TCP", "192.0.2.250", 80), ServiceKey.mark(3)}


def suspended(outputs) -> frozenset | None:
    (suspend,) = of_type(outputs, SuspendChecks)
    (resume,) = of_type(outputs, ResumeChecks)
    assert suspend.services | resume.services == ALL_KEYS  # every service told, every time
    assert not suspend.services & resume.services
    return suspend.services


def test_ha_suspend_checks_stop_while_no_master():
    policy = director(CONFIG.format(suspend="true"), started=False)
    out = policy.handle(0.0, Start())  # every instance INIT
    assert suspended(out) == {WEB_KEY}
    # (Start also gives every service its starting quorum: quorum_gained logs.)
    assert [log for log in of_type(out, Log) if log.event.startswith("health_checks")] == [
        Log("health_checks_suspended", {"service": str(WEB_KEY)})]
    for state in (BACKUP, FAULT, STOP):
        assert suspended(policy.handle(1.0, transition("VI_1", INIT, state))) == {WEB_KEY}


def test_ha_suspend_checks_resume_when_the_instance_holding_the_address_is_master():
    policy = director(CONFIG.format(suspend="true"), started=False)
    policy.handle(0.0, Start())
    out = policy.handle(1.0, transition("VI_1", BACKUP, MASTER))
    assert suspended(out) == frozenset()
    assert of_type(out, Log) == [Log("health_checks_resumed", {"service": str(WEB_KEY)})]
    assert policy.ha_suspended == frozenset()
    out = policy.handle(2.0, transition("VI_1", MASTER, BACKUP))
    assert suspended(out) == {WEB_KEY}


def test_ha_suspend_ignores_instances_that_do_not_hold_the_address():
    policy = director(CONFIG.format(suspend="true"), started=False)
    policy.handle(0.0, Start())
    assert suspended(policy.handle(1.0, transition("VI_2", BACKUP, MASTER))) == {WEB_KEY}


def test_ha_suspend_logs_only_changes():
    policy = director(CONFIG.format(suspend="true"), started=False)
    policy.handle(0.0, Start())
    assert of_type(policy.handle(1.0, transition("VI_1", INIT, BACKUP)), Log) == []


def test_ha_suspend_never_stops_fwmark_unheld_or_unflagged_services():
    policy = director(CONFIG.format(suspend="false"), started=False)
    assert suspended(policy.handle(0.0, Start())) == frozenset()


def test_ha_suspend_with_the_address_on_two_instances_needs_one_master():
    # The config refuses one VIP on two instances; the rule still has to be right for it.
    cfg = config(CONFIG.format(suspend="true"))
    vi_1, vi_2 = cfg.vrrp_instances
    vi_2 = dataclasses.replace(vi_2, virtual_ipaddress=vi_1.virtual_ipaddress)
    cfg = dataclasses.replace(cfg, vrrp_instances=(vi_1, vi_2))
    wanted = ha_suspended_services(cfg, {"VI_1": BACKUP, "VI_2": MASTER})
    assert wanted[WEB_KEY] is False
    assert ha_suspended_services(cfg, {"VI_1": BACKUP, "VI_2": FAULT})[WEB_KEY] is True
    assert ha_suspended_services(cfg, {})[WEB_KEY] is True  # not started: INIT


def test_ha_suspend_is_applied_again_after_a_reload():
    policy = director(CONFIG.format(suspend="false"), started=False)
    assert suspended(policy.handle(0.0, Start())) == frozenset()
    policy.handle(1.0, ConfigChanged(config(CONFIG.format(suspend="true"))))
    out = policy.handle(1.0, ConfigApplied())
    assert suspended(out) == {WEB_KEY}
    assert of_type(out, Log) == [Log("health_checks_suspended", {"service": str(WEB_KEY)})]


def test_ha_suspend_leaves_health_and_the_table_as_they_were():
    policy = director(CONFIG.format(suspend="true"), started=False)
    policy.handle(0.0, Start())
    (before,) = of_type(policy.handle(1.0, health("198.51.100.10", False)), DesiredIpvs)
    out = policy.handle(2.0, transition("VI_1", MASTER, BACKUP))
    assert of_type(out, DesiredIpvs) == []  # the table is not touched by a suspension
    web = next(s for s in before.table.services if s.key == WEB_KEY)
    assert web.destinations == ()
    assert policy.health.health(WEB_KEY, DestKey("198.51.100.10", 8080)).up is False


GROUP = """
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    virtual_ipaddress: [192.0.2.100/24]
  - name: VI_2
    interface: eth1
    virtual_router_id: 52
    virtual_ipaddress: [192.0.2.150/24]
virtual_servers:
  - group: {name: web, members: ["192.0.2.140-160 80", "fwmark 7"]}
    ha_suspend: true
    real_servers:
      - {address: 198.51.100.10, port: 8080}
"""


def test_ha_suspend_with_a_group_follows_the_instances_holding_any_member_address():
    """keepalived 2.2.7 check_api.c addr_matches returns false for a virtual server group, so
    its checks stay suspended for good; haipvs runs them while an instance holding an address
    of a member range (192.0.2.150 in 140-160, not VI_1's .100) is MASTER."""
    cfg = config(GROUP)
    (key,) = ha_suspended_services(cfg, {}).keys()
    assert ha_suspended_services(cfg, {"VI_1": MASTER, "VI_2": BACKUP})[key] is True
    assert ha_suspended_services(cfg, {"VI_1": BACKUP, "VI_2": MASTER})[key] is False
