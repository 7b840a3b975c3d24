"""The director policy on VRRP transitions: event first, then the instance's notify scripts
(keepalived/vrrp/vrrp_notify.c order and arguments), sync-group state
(keepalived/vrrp/vrrp_sync.c), ha_suspend, systemd STATUS, and the IPVS sync daemon's role
(keepalived/check/ipvswrapper.c: master daemon while the instance is MASTER). Time is
injected: events the director creates carry the `now` it was handed."""

from __future__ import annotations

from haipvs.events import GroupTransition, VrrpTransition
from haipvs.ipvs.model import SyncDaemonConfig, SyncState
from haipvs.policy.director import (
    ConfigApplied,
    ConfigChanged,
    DesiredIpvs,
    InstancesRemoving,
    StatusChanged,
)
from haipvs.policy.notify_scripts import RunNotify
from haipvs.vrrp.messages import State
from tests.policy.director_support import config, director, events, kinds, of_type, transition

INIT, BACKUP, MASTER, FAULT, STOP = (State.INIT, State.BACKUP, State.MASTER, State.FAULT,
                                     State.STOP)

TWO_IN_A_GROUP = """
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    virtual_ipaddress: [192.0.2.100/24]
    notify_master: [/bin/m1]
    notify: [/bin/n1, x]
  - name: VI_2
    interface: eth1
    virtual_router_id: 52
    virtual_ipaddress: [192.0.2.200/24]
vrrp_sync_groups:
  - name: G1
    group: [VI_1, VI_2]
    notify_fault: [/bin/gf]
    notify: [/bin/gn]
"""

SYNC_DAEMON = """
global:
  lvs_sync_daemon: {interface: eth1, vrrp_instance: VI_1, sync_id: 7}
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    virtual_ipaddress: [192.0.2.100/24]
"""


def test_vrrp_transition_event_goes_out_first_then_the_instance_scripts():
    policy = director(TWO_IN_A_GROUP)
    event = transition("VI_1", BACKUP, MASTER, priority=150, reason="master down timer")
    out = policy.handle(200.0, event)
    assert kinds(out)[:2] == ["Emit:vrrp_transition", "RunNotify"]
    assert events(out)[0] is event  # the VRRP thread's event, with its own time
    assert policy.instance_states["VI_1"] == MASTER


def test_vrrp_notify_runs_the_state_script_then_generic_notify_with_keepalived_arguments():
    policy = director(TWO_IN_A_GROUP)
    (run,) = of_type(policy.handle(0.0, transition("VI_1", BACKUP, MASTER, priority=150)),
                     RunNotify)
    assert run.owner == "instance:VI_1"
    assert run.scripts == (("/bin/m1",), ("/bin/n1", "x", "INSTANCE", "VI_1", "MASTER", "150"))
    assert run.env == {"HAIPVS_TYPE": "INSTANCE", "HAIPVS_NAME": "VI_1",
                       "HAIPVS_STATE": "MASTER", "HAIPVS_PREVIOUS_STATE": "BACKUP",
                       "HAIPVS_REASON": "test", "HAIPVS_PRIORITY": "150"}


def test_vrrp_notify_without_a_state_script_runs_only_the_generic_one():
    policy = director(TWO_IN_A_GROUP)
    runs = of_type(policy.handle(0.0, transition("VI_1", MASTER, FAULT)), RunNotify)
    (run,) = [r for r in runs if r.owner == "instance:VI_1"]
    assert run.scripts == (("/bin/n1", "x", "INSTANCE", "VI_1", "FAULT", "100"),)


def test_vrrp_instance_without_scripts_queues_nothing():
    policy = director(TWO_IN_A_GROUP)
    runs = of_type(policy.handle(0.0, transition("VI_2", INIT, BACKUP)), RunNotify)
    assert [r for r in runs if r.owner == "instance:VI_2"] == []


def test_vrrp_sync_group_starts_backup_notified_before_its_first_member_stamped_with_now():
    """keepalived/vrrp/vrrp_sync.c vrrp_sync_set_group: a group starts BACKUP (or FAULT);
    vrrp_scheduler.c vrrp_init_state notifies it before its members."""
    policy = director(TWO_IN_A_GROUP)
    out = policy.handle(1.5, transition("VI_1", INIT, BACKUP))
    assert kinds(out)[:3] == ["Emit:vrrp_group_transition", "RunNotify",
                              "Emit:vrrp_transition"]
    group = events(out)[0]
    assert group == GroupTransition(group="G1", old=INIT, new=BACKUP, at=1.5)
    assert group.as_record() == {"kind": "vrrp_group_transition", "group": "G1",
                                 "from": "INIT", "to": "BACKUP", "at": 1.5}
    assert policy.group_states == {"G1": BACKUP}
    out = policy.handle(2.5, transition("VI_2", INIT, BACKUP))  # the group is BACKUP already
    assert [e for e in events(out) if isinstance(e, GroupTransition)] == []


def test_vrrp_sync_group_is_fault_once_the_members_it_pulls_have_followed():
    """keepalived/vrrp/vrrp_sync.c vrrp_sync_fault: the other members leave MASTER/BACKUP
    first, then the group is notified (the FIFO reads VI_2 FAULT, VI_1 FAULT, G1 FAULT)."""
    policy = director(TWO_IN_A_GROUP)
    for name in ("VI_1", "VI_2"):
        policy.handle(1.0, transition(name, INIT, MASTER))
    out = policy.handle(3.0, transition("VI_2", MASTER, FAULT))
    assert [e for e in events(out) if isinstance(e, GroupTransition)] == []
    out = policy.handle(3.0, transition("VI_1", MASTER, FAULT))  # pulled by the group
    (group,) = [e for e in events(out) if isinstance(e, GroupTransition)]
    assert (group.old, group.new) == (MASTER, FAULT)
    (run,) = [r for r in of_type(out, RunNotify) if r.owner == "group:G1"]
    assert run.scripts == (("/bin/gf",), ("/bin/gn", "GROUP", "G1", "FAULT", "0"))
    assert run.env == {"HAIPVS_TYPE": "GROUP", "HAIPVS_NAME": "G1", "HAIPVS_STATE": "FAULT",
                       "HAIPVS_PREVIOUS_STATE": "MASTER"}


def test_vrrp_sync_group_keeps_its_state_while_members_disagree():
    policy = director(TWO_IN_A_GROUP)
    for name in ("VI_1", "VI_2"):
        policy.handle(1.0, transition(name, INIT, MASTER))
    out = policy.handle(2.0, transition("VI_1", MASTER, BACKUP))
    assert [e for e in events(out) if isinstance(e, GroupTransition)] == []
    assert policy.group_states == {"G1": MASTER}


def test_each_transition_updates_systemd_status():
    policy = director(TWO_IN_A_GROUP)
    assert of_type(policy.handle(0.0, transition("VI_2", INIT, BACKUP)),
                   StatusChanged) == [StatusChanged()]


def test_transition_leaves_the_table_alone_without_a_sync_daemon():
    policy = director(TWO_IN_A_GROUP)
    assert of_type(policy.handle(0.0, transition("VI_1", BACKUP, MASTER)), DesiredIpvs) == []


def test_lvs_sync_daemon_is_master_while_its_instance_is_master():
    policy = director(SYNC_DAEMON)
    (table,) = of_type(policy.handle(0.0, transition("VI_1", BACKUP, MASTER)), DesiredIpvs)
    assert table.sync_daemons == (SyncDaemonConfig(SyncState.MASTER, "eth1", 7),)
    for state in (BACKUP, FAULT, STOP):
        (table,) = of_type(policy.handle(0.0, transition("VI_1", MASTER, state)),
                           DesiredIpvs)
        assert table.sync_daemons == (SyncDaemonConfig(SyncState.BACKUP, "eth1", 7),)


def test_reload_forgets_removed_instances_and_groups_and_starts_added_ones_in_init():
    policy = director(TWO_IN_A_GROUP)
    for name in ("VI_1", "VI_2"):
        policy.handle(1.0, transition(name, INIT, MASTER))
    assert policy.group_states == {"G1": MASTER}
    assert policy.handle(5.0, ConfigChanged(config(SYNC_DAEMON), removed=("VI_2",))) == []
    assert policy.instance_states == {"VI_1": MASTER}
    assert policy.group_states == {}
    out = policy.handle(5.0, ConfigApplied())
    assert of_type(out, DesiredIpvs)[0].sync_daemons == (
        SyncDaemonConfig(SyncState.MASTER, "eth1", 7),)
    # An identity change is a remove plus an add: the instance starts over in INIT.
    policy.handle(6.0, ConfigChanged(config(SYNC_DAEMON), removed=("VI_1",), added=("VI_1",)))
    assert policy.instance_states == {"VI_1": INIT}


def test_transition_of_an_instance_a_reload_removed_runs_no_script():
    policy = director(TWO_IN_A_GROUP)
    policy.handle(1.0, ConfigChanged(config(SYNC_DAEMON), removed=("VI_2",)))
    out = policy.handle(2.0, transition("VI_2", BACKUP, STOP))
    assert isinstance(events(out)[0], VrrpTransition)
    assert of_type(out, RunNotify) == []


ONLY_VI_2 = TWO_IN_A_GROUP.replace("group: [VI_1, VI_2]", "group: [VI_2]")
ONLY_VI_2 = ONLY_VI_2[:ONLY_VI_2.index("  - name: VI_1")] + ONLY_VI_2[
    ONLY_VI_2.index("  - name: VI_2"):]


def test_vrrp_clear_diff_vrrp_tells_a_removed_instance_fault():
    """keepalived/vrrp/vrrp.c clear_diff_vrrp sets an instance the reload removed DELETED;
    vrrp_notify.c send_instance_notifies turns that into FAULT (no notify_deleted): the
    INSTANCE line says FAULT with its priority, the FAULT scripts run (generic notify with
    FAULT). Its old group is not pulled into FAULT. The STOP may arrive before or after
    ConfigChanged (it comes from the VRRP thread)."""
    for stop_first in (True, False):
        policy = director(TWO_IN_A_GROUP)
        policy.handle(0.0, transition("VI_1", INIT, BACKUP))
        policy.handle(0.0, transition("VI_2", INIT, BACKUP))
        policy.handle(1.0, transition("VI_1", BACKUP, MASTER, priority=150))
        assert policy.handle(2.0, InstancesRemoving(("VI_1",))) == []
        stop = transition("VI_1", MASTER, STOP, priority=150, reason="shutdown", at=2.5)
        if stop_first:
            out = policy.handle(3.0, stop)
            policy.handle(3.0, ConfigChanged(config(ONLY_VI_2), removed=("VI_1",)))
        else:
            policy.handle(3.0, ConfigChanged(config(ONLY_VI_2), removed=("VI_1",)))
            out = policy.handle(3.0, stop)
        (fault,) = events(out)
        assert fault == VrrpTransition(instance="VI_1", old=MASTER, new=FAULT,
                                       reason="removed by reload", priority=150, at=2.5)
        (run,) = of_type(out, RunNotify)
        assert run.scripts == (("/bin/n1", "x", "INSTANCE", "VI_1", "FAULT", "150"),)
        assert policy.group_states == {"G1": BACKUP} and policy.removing == {}
        assert "VI_1" not in policy.instance_states  # ConfigChanged dropped it


def test_vrrp_clear_diff_vrrp_tells_nothing_for_a_removed_instance_in_fault():
    """clear_diff_vrrp notifies only `vrrp->state != VRRP_STATE_FAULT`; the shutdown STOP of
    a daemon that is stopping, with no reload, stays STOP."""
    policy = director(TWO_IN_A_GROUP)
    policy.handle(0.0, transition("VI_1", INIT, FAULT))
    policy.handle(1.0, InstancesRemoving(("VI_1",)))
    assert policy.handle(2.0, transition("VI_1", FAULT, STOP, reason="shutdown")) == []
    out = policy.handle(3.0, transition("VI_2", BACKUP, STOP, reason="shutdown"))
    assert [e.new for e in events(out) if isinstance(e, VrrpTransition)] == [STOP]
