"""The daemon gives its threads keepalived's vrrp_priority / checker_priority as nice values
(haipvs/thread_priority.py): the VRRP thread at -10 by default, the main thread at 0, and a
reload applies new values (keepalived re-reads them when it restarts its children)."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.harness.wait import wait_until
from integration.test_ops_support import FAST, ops_node_fixture  # noqa: F401 - a fixture

pytestmark = pytest.mark.netns


def nice_by_thread(pid: int) -> dict[str, int]:
    """Thread name -> nice, from /proc/PID/task/TID/stat (field 19). The VRRP thread names
    itself haipvs-vrrp; the main thread is named after the process and listed as "main"."""
    nices: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        nices["main" if task.name == str(pid) else name] = int(fields[16])
    return nices


def test_the_vrrp_thread_outranks_the_checkers_and_a_reload_retunes_both(lan, ops_node):
    node = ops_node(lan.add_node("d1"), FAST.but(name="VI_1", vrid=51, priority=150))
    node.wait_state("MASTER", 8)
    pid = node.proc.pid
    nices = nice_by_thread(pid)
    assert (nices["haipvs-vrrp"], nices["main"]) == (-10, 0), nices

    node.top = {"global": {"vrrp_priority": -3, "checker_priority": 2}}
    node.write_config(list(node.instances.values()))
    node.reload()
    node.wait_log("reload_applied", 5)
    def vrrp_and_main() -> tuple[int, int]:
        nices = nice_by_thread(pid)
        return nices["haipvs-vrrp"], nices["main"]

    wait_until(lambda: vrrp_and_main() == (-3, 2), 5, what="the new nice values")
    assert node.count_log("thread_priority_not_set") == 0
