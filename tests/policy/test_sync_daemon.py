"""lvs_sync_daemon as keepalived 2.2.7 runs it: which daemon in which VRRP state, the sync id
default, running without an instance, and restarting a daemon whose options changed."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest

from haipvs.config.sync_daemon import LvsSyncDaemon
from haipvs.ipvs.model import SyncDaemonConfig, SyncState
from haipvs.ipvs.ops import StartSyncDaemon, StopSyncDaemon
from haipvs.ipvs.planner import plan_sync_daemons, sync_daemon_matches
from haipvs.policy.sync_daemon import wanted_sync_daemons
from haipvs.vrrp.messages import State

SYNC = LvsSyncDaemon("eth1", "VI_1")


def roles(daemons):
    return [(d.state, d.syncid) for d in daemons]


def test_vrrp_c_become_master_runs_the_master_daemon():
    # vrrp.c vrrp_state_become_master -> ipvswrapper.c ipvs_syncd_master
    assert roles(wanted_sync_daemons(SYNC, State.MASTER, 51)) == [(SyncState.MASTER, 51)]


@pytest.mark.parametrize("state", [State.INIT, State.BACKUP, State.FAULT, None])
def test_vrrp_scheduler_init_state_and_leave_master_run_the_backup_daemon(state):
    # vrrp_scheduler.c vrrp_init_state starts IPVS_BACKUP before the first state (FAULT
    # too); vrrp.c vrrp_state_leave_master -> ipvs_syncd_backup, whatever comes next.
    assert roles(wanted_sync_daemons(SYNC, state, 51)) == [(SyncState.BACKUP, 51)]


def test_vrrp_complete_init_sync_id_defaults_to_the_vrid_and_an_explicit_one_wins():
    assert wanted_sync_daemons(SYNC, State.BACKUP, 7)[0].syncid == 7
    assert wanted_sync_daemons(replace(SYNC, sync_id=0), State.BACKUP, 7)[0].syncid == 0


def test_check_daemon_start_check_without_instance_runs_master_and_backup_with_id_0():
    # check_daemon.c checker_ipvs_syncd_needed / start_check: IPVS_MASTER_BACKUP, syncid
    # PARAMETER_UNSET -> 0; the VRRP state does not matter.
    alone = LvsSyncDaemon("eth1")
    for state in (State.MASTER, State.BACKUP, None):
        assert roles(wanted_sync_daemons(alone, state, None)) == [
            (SyncState.MASTER, 0), (SyncState.BACKUP, 0)]
    assert roles(wanted_sync_daemons(replace(alone, sync_id=9), None, None)) == [
        (SyncState.MASTER, 9), (SyncState.BACKUP, 9)]


def test_ipvs_syncd_cmd_passes_maxlen_port_ttl_group():
    sync = replace(SYNC, maxlen=1400, port=9000, ttl=3,
                   group=ipaddress.ip_address("239.1.2.3"))
    (daemon,) = wanted_sync_daemons(sync, State.MASTER, 51)
    assert daemon == SyncDaemonConfig(SyncState.MASTER, "eth1", 51, 1400, "239.1.2.3", 9000, 3)
    v6 = replace(SYNC, group=ipaddress.ip_address("ff02::81"))
    assert wanted_sync_daemons(v6, State.BACKUP, 51)[0].mcast_group == "ff02::81"


# ipvswrapper.c ipvs_syncd_changed: a change of syncid, interface, maxlen, port, ttl or group
# restarts the daemon; the kernel reports its own defaults for the unset ones.

WANT = SyncDaemonConfig(SyncState.MASTER, "eth1", 5)
KERNEL = SyncDaemonConfig(SyncState.MASTER, "eth1", 5, 1472, "224.0.0.81", 8848, 1)


def test_ipvs_syncd_changed_unset_options_match_the_kernel_defaults():
    assert sync_daemon_matches(WANT, KERNEL)
    assert plan_sync_daemons([WANT], [KERNEL]) == []
    explicit = replace(WANT, maxlen=1472, mcast_group="224.0.0.81", mcast_port=8848,
                       mcast_ttl=1)
    assert plan_sync_daemons([explicit], [KERNEL]) == []


@pytest.mark.parametrize("change", [
    {"maxlen": 1000}, {"mcast_port": 9000}, {"mcast_ttl": 2}, {"mcast_group": "239.0.0.1"},
    {"syncid": 6}, {"interface": "eth2"},
])
def test_ipvs_syncd_changed_any_option_restarts_the_daemon(change):
    want = replace(WANT, **change)
    assert plan_sync_daemons([want], [KERNEL]) == [
        StopSyncDaemon(SyncState.MASTER), StartSyncDaemon(want)]


def test_an_option_dropped_from_the_config_restarts_to_the_kernel_default():
    # keepalived compares the old and new config (ipvs_syncd_changed); haipvs compares with
    # the kernel, whose port 9000 is not the default any more.
    running = replace(KERNEL, mcast_port=9000)
    assert plan_sync_daemons([WANT], [running]) == [
        StopSyncDaemon(SyncState.MASTER), StartSyncDaemon(WANT)]


def test_master_and_backup_together_and_a_switch_back_to_one():
    both = [WANT, replace(WANT, state=SyncState.BACKUP)]
    assert plan_sync_daemons(both, []) == [StartSyncDaemon(d) for d in both]
    assert plan_sync_daemons([WANT], [KERNEL, replace(KERNEL, state=SyncState.BACKUP)]) == [
        StopSyncDaemon(SyncState.BACKUP)]


def test_start_sync_thread_clamps_maxlen_and_that_is_no_change():
    # ip_vs_sync.c start_sync_thread(): a backup's maxlen is at least 1024, any at most
    # 65535 less the IP and UDP headers; the clamped value is what GET_DAEMON reports.
    backup = SyncDaemonConfig(SyncState.BACKUP, "eth1", 5, maxlen=500)
    assert plan_sync_daemons([backup], [replace(KERNEL, state=SyncState.BACKUP,
                                                 maxlen=1024)]) == []
    master = replace(WANT, maxlen=500)
    assert plan_sync_daemons([master], [replace(KERNEL, maxlen=500)]) == []
    v6 = replace(WANT, maxlen=65507, mcast_group="ff02::81")
    assert sync_daemon_matches(v6, replace(KERNEL, maxlen=65535 - 48, mcast_group="ff02::81"))
