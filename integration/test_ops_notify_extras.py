"""Acceptance: the notify extras against keepalived 2.2.7, byte for byte on the notify FIFO.

- notify_priority_changes: a track file moves VI_1's priority, a MASTER_PRIORITY line
  (vrrp_track.c vrrp_set_effective_priority -> vrrp_notify.c
  send_instance_priority_notifies);
- notify_deleted: a reload removes VI_2, a DELETED line and its notify_deleted script, not
  FAULT (vrrp.c clear_diff_vrrp -> send_instance_notifies);
- notify_master_rx_lower_pri: a split brain heals, the higher MASTER receives the lower one's
  advert: a MASTER_RX_LOWER_PRI line and the script, run as configured (vrrp.c
  vrrp_state_master_rx -> send_event_notify).
The same steps run on keepalived, then on haipvs; the FIFOs and the scripts' output agree."""

from __future__ import annotations

import os
import time

import pytest

from integration.harness.wait import wait_until
from integration.test_ops_notify import VRRP_FMT, FifoReader, same_steps
from integration.test_ops_support import (  # noqa: F401 - the fixture is used by name
    FAST,
    ops_node_fixture,
)

pytestmark = pytest.mark.netns

VI_1 = FAST.but(name="VI_1", vrid=81, vips=("192.0.2.130/24",))
VI_2 = FAST.but(name="VI_2", vrid=82, priority=200, vips=("192.0.2.131/24",))


LAN_PREFIX = "en"  # this module's own namespaces (the harness's lan fixture)


def record_script(out) -> str:
    """A command line for keepalived.conf (no double quotes inside its quoted string)."""
    return f"/bin/sh -c 'echo $0 $* >> {out}' script"


def priority_and_delete_run(daemon, fifo, track, reload) -> str:
    """Both MASTER; the track file takes 10 off VI_1; a reload removes VI_2; stop."""
    reader = FifoReader(fifo, daemon.describe)
    try:
        for name in ("VI_1", "VI_2"):
            daemon.wait_state("MASTER", 8, name=name)
        track.write_text("1\n")
        wait_until(lambda: 'INSTANCE "VI_1" MASTER_PRIORITY' in reader.read(), 10,
                   what="VI_1's MASTER_PRIORITY line",
                   describe=lambda: reader.read() + daemon.describe())
        reload()
        wait_until(lambda: 'INSTANCE "VI_2" DELETED' in reader.read(), 10,
                   what="VI_2's DELETED line", describe=lambda: reader.read() + daemon.describe())
        time.sleep(0.5)  # anything else the reload writes
        assert daemon.stop() == 0
        return reader.read()
    finally:
        reader.close()


def test_priority_change_and_deleted_lines_are_keepalived_2_2_7s(lan, ops_node,
                                                                 keepalived_node, tmp_path):
    k_fifo, h_fifo = tmp_path / "keepalived.fifo", tmp_path / "haipvs.fifo"
    for fifo in (k_fifo, h_fifo):
        os.mkfifo(fifo)  # made beforehand: keepalived's reload reopens it, same inode
    track = tmp_path / "track"
    k_out, h_out = tmp_path / "keepalived.out", tmp_path / "haipvs.out"

    track.write_text("0\n")
    keepalived = keepalived_node(lan.add_node("k1"), VI_1, VI_2, start=False)
    conf = keepalived.conf_path.read_text()
    conf = conf.replace("global_defs {", "global_defs {\n    script_user root\n"
                        f"    notify_fifo {k_fifo}\n    vrrp_notify_priority_changes", 1)
    conf = conf.replace("vrrp_instance VI_1 {", f"vrrp_track_file tf {{\n    file {track}\n"
                        "    weight -10\n}\n\nvrrp_instance VI_1 {\n    track_file {\n"
                        "        tf\n    }", 1)
    conf = conf.replace("vrrp_instance VI_2 {", "vrrp_instance VI_2 {\n"
                        f"    notify_deleted \"{record_script(k_out)}\"", 1)
    keepalived.conf_path.write_text(conf)

    def keepalived_reload() -> None:
        keepalived.reload_without("VI_2")

    keepalived.start()
    expected = priority_and_delete_run(keepalived, k_fifo, track, keepalived_reload)

    track.write_text("0\n")
    haipvs = ops_node(
        lan.add_node("h1"), VI_1, VI_2,
        top={"global": {"notify_fifo": str(h_fifo), "vrrp_notify_priority_changes": True},
             "vrrp_track_files": [{"name": "tf", "file": str(track), "weight": -10}]},
        per_instance={"VI_1": {"track_file": ["tf"]},
                      "VI_2": {"notify_deleted": True, "notify_deleted_script": [
                          "/bin/sh", "-c", f"echo $0 $* >> {h_out}", "script"]}})

    def haipvs_reload() -> None:
        haipvs.write_config([VI_1])
        haipvs.reload()

    got = priority_and_delete_run(haipvs, h_fifo, track, haipvs_reload)
    spelled = "".join(VRRP_FMT % line for line in [
        ("INSTANCE", "VI_1", "BACKUP", 100), ("INSTANCE", "VI_2", "BACKUP", 200),
        ("INSTANCE", "VI_1", "MASTER", 100), ("INSTANCE", "VI_2", "MASTER", 200),
        ("INSTANCE", "VI_1", "MASTER_PRIORITY", 90), ("INSTANCE", "VI_2", "DELETED", 200),
        ("INSTANCE", "VI_1", "STOP", 90)])
    # keepalived's reload re-creates VI_1 at its base priority and re-applies the track file
    # while the new instance is not yet MASTER (vrrp_track.c: "BACKUP_PRIORITY" unless
    # VRRP_STATE_MAST): one more line. haipvs keeps the instance and its priority through a
    # reload, so nothing changed and it writes nothing (docs/migration.md).
    reload_artifact = VRRP_FMT % ("INSTANCE", "VI_1", "BACKUP_PRIORITY", 90)
    assert reload_artifact in expected, expected
    expected = expected.replace(reload_artifact, "", 1)
    assert same_steps(expected) == same_steps(spelled), expected
    assert same_steps(got) == same_steps(expected), got
    # the notify_deleted script, with nothing appended (vrrp_notify.c get_iscript)
    assert k_out.read_text() == h_out.read_text() == "script\n"


def split_brain_run(lan, higher, lower, fifo, out) -> str:
    """Both MASTER while multicast VRRP is dropped; then the lower one's adverts get through
    first (else the higher one's advert may win the race and the lower steps down unheard),
    then everything: the higher one receives lower-priority adverts. Its FIFO lines from the
    heal on."""
    reader = FifoReader(fifo, higher.describe)
    try:
        for daemon in (higher, lower):
            daemon.wait_state("MASTER", 10)
        reader.read()
        healed = len(reader.data)
        lan.bridge_ns.run("nft", "delete", "table", "bridge", "haipvs_test")
        lan.bridge_ns.nft("table bridge haipvs_test {\n  chain forward {\n"
                          "    type filter hook forward priority 0; policy accept;\n"
                          f"    ip saddr {higher.node.ip} ip daddr 224.0.0.18 drop\n"
                          "  }\n}\n")
        wait_until(lambda: out.exists() and out.read_text(), 10, what="the rx_lower_pri script",
                   describe=higher.describe)
        lan.bridge_ns.run("nft", "delete", "table", "bridge", "haipvs_test")
        lower.wait_state("BACKUP", 10)
        time.sleep(0.3)
        return reader.read()[healed:]
    finally:
        reader.close()


def test_master_rx_lower_pri_line_and_script_as_keepalived(lan, ops_node, keepalived_node,
                                                           tmp_path):
    k_fifo, h_fifo = tmp_path / "keepalived.fifo", tmp_path / "haipvs.fifo"
    k_out, h_out = tmp_path / "keepalived.out", tmp_path / "haipvs.out"
    for fifo in (k_fifo, h_fifo):
        os.mkfifo(fifo)

    # keepalived the higher (150), haipvs the lower (100)
    lan.drop_multicast_vrrp()
    keepalived = keepalived_node(lan.add_node("k1"), VI_1.but(priority=150), start=False)
    conf = keepalived.conf_path.read_text()
    conf = conf.replace("global_defs {", "global_defs {\n    script_user root\n"
                        f"    notify_fifo {k_fifo}", 1)
    conf = conf.replace("vrrp_instance VI_1 {", "vrrp_instance VI_1 {\n"
                        f"    notify_master_rx_lower_pri \"{record_script(k_out)} lower\"", 1)
    keepalived.conf_path.write_text(conf)
    keepalived.start()
    low_haipvs = ops_node(lan.add_node("h2"), VI_1.but(priority=100))
    expected = split_brain_run(lan, keepalived, low_haipvs, k_fifo, k_out)
    keepalived.proc.stop(5)
    low_haipvs.stop()

    # haipvs the higher, keepalived the lower
    lan.drop_multicast_vrrp()
    haipvs = ops_node(lan.add_node("h1"), VI_1.but(priority=150),
                      top={"global": {"notify_fifo": str(h_fifo)}},
                      per_instance={"VI_1": {"notify_master_rx_lower_pri": [
                          "/bin/sh", "-c", f"echo $0 $* >> {h_out}", "script", "lower"]}})
    low_keepalived = keepalived_node(lan.add_node("k2"), VI_1.but(priority=100))
    got = split_brain_run(lan, haipvs, low_keepalived, h_fifo, h_out)
    assert haipvs.stop() == 0

    line = VRRP_FMT % ("INSTANCE", "VI_1", "MASTER_RX_LOWER_PRI", 150)
    assert expected and set(expected.splitlines(keepends=True)) == {line}, expected
    assert got and set(got.splitlines(keepends=True)) == {line}, got
    # send_event_notify: notify_exec(script) with its own arguments only
    assert set(k_out.read_text().splitlines()) == set(h_out.read_text().splitlines()) == {
        "script lower"}
