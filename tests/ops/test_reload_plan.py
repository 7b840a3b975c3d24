"""The reload plan: which instances keep their state, which are retuned, added, removed."""

import textwrap

from haipvs.config import load_config
from haipvs.reload import plan_reload

BASE = """
vrrp_instances:
  - {name: VI_1, interface: eth0, virtual_router_id: 51, priority: 150,
     virtual_ipaddress: [192.0.2.100/24]}
  - {name: VI_2, interface: eth0, virtual_router_id: 52, virtual_ipaddress: [192.0.2.101/24]}
"""


def config(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return load_config(str(path))


def plan(tmp_path, old, new):
    return plan_reload(config(tmp_path, old, "old.yaml"), config(tmp_path, new, "new.yaml"))


def test_identical_instances_are_kept_untouched(tmp_path):
    result = plan(tmp_path, BASE, BASE)
    assert [b.name for b in result.keep] == ["VI_1", "VI_2"]
    assert result.add == () and result.remove == () and result.retuned == ()


def test_parameter_changes_retune_without_restart(tmp_path):
    changed = BASE.replace("priority: 150", "priority: 120, advert_int: 2, preempt: false")
    result = plan(tmp_path, BASE, changed)
    assert result.retuned == ("VI_1",)
    assert result.add == () and result.remove == ()
    kept = {b.name: b for b in result.keep}
    assert kept["VI_1"].params.base_priority == 120 and kept["VI_1"].params.advert_int == 2


def test_tracked_interfaces_and_sync_group_are_retunes(tmp_path):
    changed = BASE.replace("priority: 150,", "priority: 150, track_interface: [eth1],")
    changed += "vrrp_sync_groups: [{name: G, group: [VI_1, VI_2]}]\n"
    result = plan(tmp_path, BASE, changed)
    assert set(result.retuned) == {"VI_1", "VI_2"}
    kept = {b.name: b for b in result.keep}
    assert kept["VI_1"].track_interfaces == (("eth1", 0),)
    assert kept["VI_2"].sync_group == "G"


def test_identity_changes_restart_the_instance(tmp_path):
    for changed in (
        BASE.replace("192.0.2.100/24", "192.0.2.110/24"),  # VIPs
        BASE.replace("virtual_router_id: 51", "virtual_router_id: 61"),  # VRID
        BASE.replace("interface: eth0, virtual_router_id: 51",
                     "interface: eth1, virtual_router_id: 51"),  # interface
        BASE.replace("priority: 150", "priority: 255"),  # becomes address owner
    ):
        result = plan(tmp_path, BASE, changed)
        assert result.remove == ("VI_1",), changed
        assert [b.name for b in result.add] == ["VI_1"]
        assert [b.name for b in result.keep] == ["VI_2"]


def test_added_and_removed_instances(tmp_path):
    new = BASE.replace("VI_2", "VI_3").replace("virtual_router_id: 52", "virtual_router_id: 53")
    result = plan(tmp_path, BASE, new)
    assert [b.name for b in result.add] == ["VI_3"]
    assert result.remove == ("VI_2",)
    assert result.describe() == {"kept": ["VI_1"], "retuned": [], "added": ["VI_3"],
                                 "removed": ["VI_2"]}
