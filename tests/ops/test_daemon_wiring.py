"""The daemon carries the director's outputs into I/O, in order: typed VRRP transitions in,
records in the dump's recent events, keepalived lines in the FIFO, JSON lines in the event
log, notify scripts with their HAIPVS_* environment. No VRRP thread, IPVS or network: the
transitions are fed in as the VRRP thread would, and the shutdown flush is waited on."""

import json
import os
from pathlib import Path

import trio

from haipvs.config import load_config_text
from haipvs.daemon import Daemon
from haipvs.events import VrrpTransition
from haipvs.vrrp.messages import State

CONFIG = """
global:
  notify_fifo: {tmp}/events.fifo
  event_log: {tmp}/events.jsonl
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    virtual_ipaddress: [192.0.2.100/24]
    notify:
      - /bin/sh
      - -c
      - echo "$HAIPVS_TYPE $HAIPVS_NAME $HAIPVS_PREVIOUS_STATE $HAIPVS_STATE $4" >> {tmp}/notify.log
      - sh
  - name: VI_2
    interface: eth1
    virtual_router_id: 52
    virtual_ipaddress: [192.0.2.200/24]
vrrp_sync_groups:
  - name: G1
    group: [VI_1, VI_2]
    notify: [/bin/sh, -c, 'echo "$HAIPVS_TYPE $HAIPVS_NAME $HAIPVS_STATE" >> {tmp}/notify.log']
"""


def transition(name: str, old: State, new: State, at: float) -> VrrpTransition:
    return VrrpTransition(instance=name, old=old, new=new, reason="test", priority=100, at=at)


async def test_transitions_reach_dump_fifo_event_log_and_scripts_in_order(tmp_path: Path):
    config = load_config_text(CONFIG.format(tmp=tmp_path), "wiring.yaml")
    daemon = Daemon(config, "wiring.yaml")
    daemon.configure_outputs(daemon.config)
    reader = os.open(tmp_path / "events.fifo", os.O_RDONLY | os.O_NONBLOCK)
    try:
        async with trio.open_nursery() as nursery:
            daemon._token = trio.lowlevel.current_trio_token()
            await nursery.start(daemon.notify_runner.run)
            nursery.start_soon(daemon.consume_events)
            sent = [transition("VI_1", State.INIT, State.BACKUP, 1.0),
                    transition("VI_2", State.INIT, State.BACKUP, 2.0),
                    transition("VI_1", State.BACKUP, State.MASTER, 3.0)]
            for event in sent:
                daemon._event_from_vrrp_thread(event)
            with trio.fail_after(10):
                await daemon.flush_events()
                await daemon.notify_runner.wait_idle()
            nursery.cancel_scope.cancel()
        fifo = os.read(reader, 65536).decode().splitlines()
    finally:
        os.close(reader)
        daemon.events.close()
    records = daemon.recent_events
    # keepalived notifies a sync group starting BACKUP before its members (vrrp_init_state)
    assert [r["kind"] for r in records] == ["vrrp_group_transition", "vrrp_transition",
                                             "vrrp_transition", "vrrp_transition"]
    assert records[1] == {"kind": "vrrp_transition", "instance": "VI_1", "from": "INIT",
                          "to": "BACKUP", "reason": "test", "priority": 100, "at": 1.0}
    assert {k: v for k, v in records[0].items() if k != "at"} == {
        "kind": "vrrp_group_transition", "group": "G1", "from": "INIT", "to": "BACKUP"}
    assert fifo == ['GROUP "G1" BACKUP 0', 'INSTANCE "VI_1" BACKUP 100',
                    'INSTANCE "VI_2" BACKUP 100', 'INSTANCE "VI_1" MASTER 100']
    logged = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert logged == records
    # One queue per owner: the instance's lines are in order; the group's runs beside them.
    lines = (tmp_path / "notify.log").read_text().splitlines()
    assert [line for line in lines if line.startswith("INSTANCE")] == [
        "INSTANCE VI_1 INIT BACKUP 100", "INSTANCE VI_1 BACKUP MASTER 100"]
    assert [line for line in lines if line.startswith("GROUP")] == ["GROUP G1 BACKUP"]
    assert daemon.status_line() == "VI_1 MASTER, VI_2 BACKUP; IPVS starting, 0 services"
