"""Acceptance: `kill -USR1` writes the documented JSON state dump (format 1) and the
human-readable haipvs.data, atomically."""

import time

import pytest

from integration.harness.instance import VrrpInstance
from integration.harness.requirements import haipvs_unavailable_reason

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(haipvs_unavailable_reason() is not None,
                       reason=haipvs_unavailable_reason() or ""),
]

VIP = "192.0.2.100/24"
BASE = VrrpInstance(version=2, password="1111")
DROP_REASONS = {
    "short_packet", "ttl", "version", "type", "length", "checksum", "unknown_vrid",
    "owner_ignores", "auth_type", "auth_mismatch", "interval_mismatch", "zero_interval",
    "no_addresses", "vip_mismatch", "family", "unknown_peer",
}


def check_instance_common(inst, priority):
    assert inst["interface"] == "eth0"
    assert inst["vrid"] == 51
    assert inst["version"] == 2
    assert inst["family"] == 4
    assert inst["base_priority"] == priority
    assert inst["effective_priority"] == priority
    assert inst["advert_int"] == 1.0
    counters = inst["counters"]
    for name in ("adverts_sent", "adverts_received", "transitions"):
        assert isinstance(counters[name], int) and counters[name] >= 0, name
    assert isinstance(counters["drops"], dict)
    assert set(counters["drops"]) <= DROP_REASONS, "drop reasons use the documented names"
    assert isinstance(counters.get("notes", {}), dict)
    for transition in inst["last_transitions"]:
        assert set(transition) >= {"at", "from", "to", "reason"}
        assert isinstance(transition["at"], float)


def test_sigusr1_dump_describes_master_and_backup(lan, sniffer, haipvs_node):
    d1, d2 = lan.add_node("d1"), lan.add_node("d2")
    master = haipvs_node(d1, BASE.but(priority=150, state="MASTER"))
    backup = haipvs_node(d2, BASE.but(priority=100))
    master.wait_state("MASTER", 6)
    backup.wait_state("BACKUP", 2)
    # Two adverts on the wire, so the backup has counted at least one it received.
    first = sniffer.wait_advert(3, src_ip=d1.ip)
    sniffer.wait_advert(3, since=first.ts + 0.5, src_ip=d1.ip)

    asked = time.time()
    dump = master.dump()
    assert dump["format"] == 1
    assert asked - 0.01 <= dump["generated_at"] <= time.time() + 0.01
    assert dump["pid"] == master.proc.pid
    assert dump["router_id"] == "d1"
    assert set(dump["instances"]) == {"VI_1"}
    inst = dump["instances"]["VI_1"]
    check_instance_common(inst, 150)
    assert inst["state"] == "MASTER"
    assert inst["master_ip"] == d1.ip
    assert inst["vips_held"] == [VIP]
    assert inst["counters"]["adverts_sent"] >= 2
    assert inst["counters"]["transitions"] >= 2  # INIT -> BACKUP -> MASTER
    assert inst["last_transitions"][-1]["to"] == "MASTER"
    assert inst["last_transitions"][-1]["from"] == "BACKUP"
    assert isinstance(dump["interfaces"], dict) and dump["interfaces"]
    assert all("drops" in entry for entry in dump["interfaces"].values())
    ipvs = dump["ipvs"]
    assert ipvs["status"] == "unavailable", "this kernel has no IPVS"
    assert "IPVS" in ipvs["error"]
    assert ipvs["desired"] == []
    process = dump["process"]
    # Main loop: root + daemon tasks; VRRP loop: root + one receiver per socket + timers.
    assert process["main_loop_tasks"] >= 3 and process["vrrp_loop_tasks"] >= 2
    assert process["os_threads"] >= 2, "the VRRP loop runs in its own thread"
    assert process["open_fds"] >= 3
    assert 10 * 2**20 < process["rss_bytes"] < 1024 * 2**20

    backup_inst = backup.dump()["instances"]["VI_1"]
    check_instance_common(backup_inst, 100)
    assert backup_inst["state"] == "BACKUP"
    assert backup_inst["master_ip"] == d1.ip
    assert backup_inst["vips_held"] == []
    assert backup_inst["counters"]["adverts_received"] >= 1

    text = (master.state_dir / "haipvs.data").read_text()
    assert "VI_1" in text and "MASTER" in text and "192.0.2.100/24" in text
    assert f"Process: {process['open_fds']} fds" in text
    leftovers = [p.name for p in master.state_dir.iterdir()
                 if p.name not in ("haipvs.json", "haipvs.data")]
    assert not leftovers, f"temporary files left behind: {leftovers}"
