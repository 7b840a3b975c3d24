"""Which IPVS sync daemons run, as keepalived 2.2.7 decides it.

- With a VRRP instance named (`lvs_sync_daemon IF INSTANCE`), the VRRP process runs one
  daemon: backup from the start (vrrp_scheduler.c vrrp_init_state starts IPVS_BACKUP before
  the instance's first state, FAULT included), master while the instance is MASTER
  (vrrp.c vrrp_state_become_master -> ipvswrapper.c ipvs_syncd_master: stop backup, start
  master) and backup again when it leaves MASTER (vrrp_state_leave_master ->
  ipvs_syncd_backup), FAULT included. The sync id defaults to the instance's VRID
  (vrrp.c vrrp_complete_init).
- Without an instance (`lvs_sync_daemon IF`), the checker runs both daemons for the whole
  run (check_daemon.c checker_ipvs_syncd_needed / start_check: IPVS_MASTER_BACKUP), sync
  id 0 unless given.

Pure: the director passes the instance's state in; the reconciler (haipvs/ipvs/reconcile.py,
planner.plan_sync_daemons) makes the kernel match."""

from __future__ import annotations

from haipvs.config.model import LvsSyncDaemon
from haipvs.ipvs.model import SyncDaemonConfig, SyncState
from haipvs.vrrp.messages import State


def wanted_sync_daemons(
    sync: LvsSyncDaemon, instance_state: State | None, instance_vrid: int | None
) -> tuple[SyncDaemonConfig, ...]:
    """The daemons to run. `instance_state` / `instance_vrid` are those of
    `sync.vrrp_instance` (None when it is not running yet / not configured)."""
    if sync.vrrp_instance is None:
        roles = (SyncState.MASTER, SyncState.BACKUP)
        sync_id = sync.sync_id if sync.sync_id is not None else 0
    else:
        roles = (SyncState.MASTER if instance_state == State.MASTER else SyncState.BACKUP,)
        sync_id = sync.sync_id if sync.sync_id is not None else (instance_vrid or 0)
    return tuple(
        SyncDaemonConfig(
            state=role,
            interface=sync.interface,
            syncid=sync_id,
            maxlen=sync.maxlen,
            mcast_group=str(sync.group) if sync.group is not None else None,
            mcast_port=sync.port,
            mcast_ttl=sync.ttl,
        )
        for role in roles
    )
