"""keepalived 2.2.7's notify extras: notify_deleted, notify_master_rx_lower_pri and
notify_priority_changes (keepalived/vrrp/vrrp_notify.c send_instance_notifies,
send_event_notify, send_instance_priority_notifies, notify_fifo; vrrp.c
vrrp_state_master_rx, clear_diff_vrrp, vrrp_complete_instance; vrrp_track.c
vrrp_set_effective_priority), driven through the pure core and director."""

from __future__ import annotations

import pytest

from haipvs.events import InstanceNotice, VrrpTransition
from haipvs.notify import fifo_line
from haipvs.policy.director import ConfigChanged, InstancesRemoving
from haipvs.policy.notify_scripts import RunNotify
from haipvs.policy.smtp_alerts import SmtpAlertPolicy
from haipvs.vrrp.core import Log, NotifyLowerPriority, SendAdvert
from haipvs.vrrp.messages import State
from tests.policy.director_support import config, director, events, of_type, transition
from tests.vrrp.builders import params, received, to_master

BASE = """
global:
  router_id: lvs01
{global_extra}
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    priority: 150
    virtual_ipaddress: [192.0.2.100/24]
    notify: [/bin/n1, x]
{vi_1}
  - name: VI_2
    interface: eth0
    virtual_router_id: 52
    priority: 100
    virtual_ipaddress: [192.0.2.101/24]
vrrp_sync_groups:
  - name: G1
    group: [VI_2]
{group}
"""
ONLY_VI_2 = """
vrrp_instances:
  - name: VI_2
    interface: eth0
    virtual_router_id: 52
    priority: 100
    virtual_ipaddress: [192.0.2.101/24]
"""


def text(vi_1: str = "", group: str = "", global_extra: str = "") -> str:
    return BASE.format(vi_1=vi_1, group=group, global_extra=global_extra)


# ---- the FIFO lines ------------------------------------------------------------------------

@pytest.mark.parametrize("word", ["DELETED", "MASTER_RX_LOWER_PRI", "MASTER_PRIORITY",
                                  "BACKUP_PRIORITY"])
def test_notify_fifo_line_of_each_notice_as_vrrp_notify_fifo(word):
    # vrrp_notify.c notify_fifo: "%s \"%s\" %s %d\n" with the event's word as the state
    assert fifo_line(InstanceNotice("VI_1", word, 90, 1.0)) == f'INSTANCE "VI_1" {word} 90'


# ---- notify_deleted ------------------------------------------------------------------------

def removed(policy, old: State) -> list:
    policy.handle(2.0, InstancesRemoving(("VI_1",)))
    policy.handle(3.0, ConfigChanged(config(ONLY_VI_2), removed=("VI_1",)))
    return policy.handle(3.0, transition("VI_1", old, State.STOP, priority=150,
                                         reason="shutdown", at=2.5))


@pytest.mark.parametrize("old", [State.MASTER, State.FAULT])
def test_notify_deleted_tells_deleted_even_from_fault_as_clear_diff_vrrp(old):
    policy = director(text(vi_1="    notify_deleted: true\n"
                                "    notify_deleted_script: [/bin/gone, y]"))
    out = removed(policy, old)
    assert events(out) == [InstanceNotice("VI_1", "DELETED", 150, 2.5)]
    (run,) = of_type(out, RunNotify)
    # get_iscript: script_deleted first, then the generic notify with DELETED
    assert run.scripts == (("/bin/gone", "y"), ("/bin/n1", "x", "INSTANCE", "VI_1",
                                                 "DELETED", "150"))
    assert run.env["HAIPVS_STATE"] == "DELETED"


def test_without_notify_deleted_a_removed_instance_is_told_fault():
    out = removed(director(text()), State.MASTER)
    assert [e.new for e in events(out) if isinstance(e, VrrpTransition)] == [State.FAULT]
    assert not [e for e in events(out) if isinstance(e, InstanceNotice)]


def test_notify_deleted_mail_says_deleted():
    cfg = config(text(vi_1="    notify_deleted: true\n    smtp_alert: true",
                      global_extra="  smtp: {server: 192.0.2.25, notification_email: "
                                   "[ops@example.com]}"))
    alerts = SmtpAlertPolicy().handle(cfg, InstanceNotice("VI_1", "DELETED", 150, 2.0))
    # vrrp_notify.c vrrp_smtp_notifier: VRRP_STATE_DELETED
    assert [(a.subject, a.body) for a in alerts] == [
        ("[lvs01] VRRP Instance VI_1 - Deleted", "=> VRRP Deleted at reload <=")]


# ---- notify_master_rx_lower_pri ------------------------------------------------------------

def test_master_receiving_a_lower_priority_advert_notifies_after_answering():
    # vrrp.c vrrp_state_master_rx: advert (unless lower_prio_no_advert), GARPs, then
    # send_event_notify(VRRP_EVENT_MASTER_RX_LOWER_PRI)
    machine, now = to_master(params(base_priority=150))
    actions = machine.handle(now + 0.1, received(machine.params, priority=100))
    assert isinstance(actions[-1], NotifyLowerPriority) and actions[-1].priority == 100
    assert any(isinstance(a, SendAdvert) for a in actions)
    assert isinstance(actions[0], Log)


def test_rx_lower_pri_runs_its_script_as_configured_and_always_writes_the_line():
    policy = director(text(vi_1="    notify_master_rx_lower_pri: [/bin/lower, --now]"))
    notice = InstanceNotice("VI_1", "MASTER_RX_LOWER_PRI", 150, 5.0)
    out = policy.handle(5.0, notice)
    assert events(out) == [notice]
    (run,) = of_type(out, RunNotify)
    # send_event_notify: notify_exec(script), no arguments appended, no generic notify
    assert run.scripts == (("/bin/lower", "--now"),)
    out = director(text()).handle(5.0, notice)
    assert events(out) == [notice] and not of_type(out, RunNotify)


# ---- notify_priority_changes ---------------------------------------------------------------

@pytest.mark.parametrize(("vi_1", "global_extra", "wanted"), [
    ("", "", False),  # keepalived's default: off
    ("    notify_priority_changes: true", "", True),
    ("", "  vrrp_notify_priority_changes: true", True),
    ("    notify_priority_changes: false", "  vrrp_notify_priority_changes: true", False),
])
def test_priority_change_lines_follow_notify_priority_changes(vi_1, global_extra, wanted):
    policy = director(text(vi_1=vi_1, global_extra=global_extra))
    notice = InstanceNotice("VI_1", "BACKUP_PRIORITY", 140, 5.0)
    out = policy.handle(5.0, notice)
    assert events(out) == ([notice] if wanted else [])
    assert not of_type(out, RunNotify)  # send_instance_priority_notifies: the FIFO only


def test_sync_group_notify_priority_changes_is_its_members_default():
    # vrrp.c vrrp_complete_instance: vrrp->sync->notify_priority_changes before the global
    policy = director(text(group="    notify_priority_changes: true",
                           global_extra="  vrrp_notify_priority_changes: false"))
    notice = InstanceNotice("VI_2", "MASTER_PRIORITY", 90, 5.0)
    assert events(policy.handle(5.0, notice)) == [notice]
