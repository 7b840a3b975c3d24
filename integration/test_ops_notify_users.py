"""VRRP notify scripts with their own user and group, haipvs against keepalived 2.2.7 on the
same keepalived.conf lines (lib/notify.c notify_script_init: `notify_master "SCRIPT ARGS"
USER [GROUP]`, set_script_uid_gid; run with set_script_env's setgid/setgroups/setuid).

keepalived runs the keepalived.conf; haipvs runs what `haipvs import-keepalived` makes of
the same notify lines. Both instances start alone on their VRID, so each goes BACKUP then
MASTER: notify_backup, notify_master and the generic notify each run, and write
`<tag> <uid> <gid>` from inside the script."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from haipvs.importer import import_keepalived
from integration.harness.requirements import keepalived_interop_marks
from integration.harness.wait import wait_until
from integration.script_users_support import (  # noqa: F401 - fixtures used by name
    out_file,
    script_dir,
    two_users,
)
from integration.test_ops_support import FAST, ops_node_fixture  # noqa: F401 - fixture

pytestmark = keepalived_interop_marks()

STATE_TIMEOUT = 8.0  # start + Master_Down at 0.2 s adverts, on a shared 2-core machine
NOTIFY_KEYS = ("notify_master", "notify_backup", "notify")


def notify_lines(ids: Path, log: Path, a: str, b: str) -> str:
    """keepalived's notify lines: A with its own group; B with A's group; `notify` as B
    (it gets `INSTANCE VI_1 <state> <priority>` appended; the script reads $1 and $2)."""
    return (f'    notify_master "{ids} {log} master" {a}\n'
            f'    notify_backup "{ids} {log} backup" {b} {a}\n'
            f'    notify "{ids} {log} generic" {b}\n')


def script_lines(log: Path) -> Counter[str]:
    """What the scripts wrote, without their `start` lines (keepalived runs its scripts
    without waiting for each other, so only the multiset can be compared)."""
    return Counter(line for line in log.read_text().splitlines()
                   if not line.startswith("start "))


def test_notify_scripts_run_as_their_own_user_and_group_as_keepalived(
        lan, ops_node, keepalived_node, two_users, script_dir, tmp_path):  # noqa: F811
    user_a, user_b = two_users
    ids = script_dir / "ids.sh"
    k_log, h_log = out_file(script_dir, "keepalived.log"), out_file(script_dir, "haipvs.log")

    keepalived = keepalived_node(lan.add_node("k1"),
                                 FAST.but(name="VI_1", vrid=93, vips=("192.0.2.193/24",)),
                                 start=False)
    conf = keepalived.conf_path.read_text()
    conf = conf.replace("vrrp_instance VI_1 {\n", "vrrp_instance VI_1 {\n" + notify_lines(
        ids, k_log, user_a.name, user_b.name), 1)
    keepalived.conf_path.write_text(conf)
    keepalived.start()

    # haipvs: what the importer makes of the same lines, pointed at its own log
    same = tmp_path / "same.conf"
    same.write_text(conf.replace(str(k_log), str(h_log)))
    imported = import_keepalived(same).document["vrrp_instances"][0]
    scripts = {key: imported[key] for key in NOTIFY_KEYS}
    assert scripts["notify_master"] == {"command": [str(ids), str(h_log), "master"],
                                        "user": user_a.name}
    assert scripts["notify_backup"] == {"command": [str(ids), str(h_log), "backup"],
                                        "user": user_b.name, "group": user_a.name}
    haipvs = ops_node(lan.add_node("h1"),
                      FAST.but(name="VI_1", vrid=94, vips=("192.0.2.194/24",)),
                      per_instance={"VI_1": scripts})

    keepalived.wait_state("MASTER", STATE_TIMEOUT)
    haipvs.wait_state("MASTER", STATE_TIMEOUT)
    expected = Counter({f"master {user_a.uid} {user_a.gid}": 1,
                        f"backup {user_b.uid} {user_a.gid}": 1,
                        f"generic {user_b.uid} {user_b.gid}": 2})
    for log, daemon in ((k_log, keepalived), (h_log, haipvs)):
        wait_until(lambda log=log: script_lines(log).total() == expected.total(), 5,
                   what=f"the notify scripts writing {log.name}", describe=daemon.describe)
    assert script_lines(k_log) == expected, k_log.read_text()
    assert script_lines(h_log) == script_lines(k_log), h_log.read_text()
    assert haipvs.stop() == 0


def test_global_scripts_run_as_their_own_user(
        lan, ops_node, two_users, script_dir, tmp_path):  # noqa: F811 - fixtures
    """startup_script, shutdown_script (global_parser.c startup_shutdown_script_handler) and
    notify_fifo_script (notify_fifo_script -> notify_script_init(1, ...)) with `USER
    [GROUP]`: each runs as its own user; the FIFO script gets the FIFO path appended."""
    user_a, user_b = two_users
    ids = str(script_dir / "ids.sh")
    log = out_file(script_dir, "global.log")
    haipvs = ops_node(lan.add_node("h1"),
                      FAST.but(name="VI_1", vrid=95, vips=("192.0.2.195/24",)),
                      top={"global": {
                          "startup_script": {"command": [ids, str(log), "startup"],
                                             "user": user_a.name},
                          "shutdown_script": {"command": [ids, str(log), "shutdown"],
                                              "user": user_b.name, "group": user_a.name},
                          "notify_fifo": str(tmp_path / "events.fifo"),
                          # ids.sh reads $1 (the log) and $2 (the tag): the FIFO path is $3
                          "notify_fifo_script": {"command": [ids, str(log), "fifo"],
                                                 "user": user_b.name}}})
    haipvs.wait_state("MASTER", STATE_TIMEOUT)
    wait_until(lambda: "fifo " in log.read_text(), 5, what="the FIFO script",
               describe=haipvs.describe)
    assert haipvs.stop() == 0
    assert script_lines(log) == Counter({f"startup {user_a.uid} {user_a.gid}": 1,
                                         f"fifo {user_b.uid} {user_b.gid}": 1,
                                         f"shutdown {user_b.uid} {user_a.gid}": 1})
