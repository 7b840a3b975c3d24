"""import-keepalived keeps a virtual_server_group as one haipvs virtual server with `group:`
(members as written; keepalived 2.2.7 check_data.c alloc_vsg_entry skips a bad member), and
falls back to one virtual server per member only for a group haipvs refuses."""

from __future__ import annotations

import textwrap

from haipvs.config import load_config_text
from haipvs.importer import import_keepalived
from haipvs.ipvs.desired import desired_table

CONF = """\
virtual_server_group G {
    192.0.2.1-3 80
    198.51.100.0/30 80
    fwmark 7
    192.0.2.9-0 80
}
virtual_server group G {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 203.0.113.10 80 { TCP_CHECK { connect_timeout 3 } }
    real_server 203.0.113.11 80 { TCP_CHECK { connect_timeout 3 } }
}
"""


def _import(tmp_path, text):
    path = tmp_path / "keepalived.conf"
    path.write_text(textwrap.dedent(text))
    result = import_keepalived(path)
    return result, load_config_text(result.yaml, "t.yaml")


def test_group_kept_with_members_as_written_and_bad_member_noted(tmp_path):
    result, config = _import(tmp_path, CONF)
    (vs,) = config.virtual_servers
    assert vs.group.name == "G" and len(vs.group.members) == 3
    assert "members: [192.0.2.1-3 80, 198.51.100.0/30 80, fwmark 7]" in result.yaml
    assert any(n.line == 5 and n.dropped for n in result.notes)  # 192.0.2.9-0: end < start
    # ipvswrapper.c ipvs_group_range_cmd: 3 + 4 addresses and the fwmark, DR destinations
    # on each member's port
    table = desired_table(config)
    assert len(table.services) == 8
    assert {len(s.destinations) for s in table.services} == {2}


def test_group_haipvs_refuses_falls_back_to_one_virtual_server_per_member(tmp_path):
    text = CONF.replace("198.51.100.0/30 80", "192.0.2.2 80")  # overlaps 192.0.2.1-3
    result, config = _import(tmp_path, text)
    assert any("overlap" in n.why and "one virtual server per member" in n.why
               for n in result.notes)
    assert all(vs.group is None for vs in config.virtual_servers)


def test_a_range_keepalived_cannot_step_through_is_noted_as_changed(tmp_path):
    """ipvswrapper.c ipvs_group_range_cmd steps the last IPv4 octet (carry lost) and the last
    IPv6 16-bit group only: such a range never ends there as written."""
    from haipvs.ipvs.vs_group import keepalived_wraps, parse_member

    text = CONF.replace("    fwmark 7\n", "    fwmark 7\n    203.0.113.250-203.0.114.2 80\n")
    result, config = _import(tmp_path, text)
    changed = [n.line for n in result.notes if "ipvs_group_range_cmd" in n.why]
    assert changed == [5]
    (vs,) = config.virtual_servers
    assert vs.group is not None
    assert len(desired_table(config).services) == 8 + 9  # every address, as haipvs does
    wraps = {text: keepalived_wraps(parse_member(text)) for text in (
        "2001:db8::1:fffe-2001:db8::2:1 80", "2001:db8::1-2001:db8::ff 80", "2001:db8::/112 80",
        "2001:db8::/111 80", "192.0.2.0/24 80", "192.0.2.0/23 80", "192.0.2.1-9 80")}
    assert wraps == {"2001:db8::1:fffe-2001:db8::2:1 80": True,
                     "2001:db8::1-2001:db8::ff 80": False, "2001:db8::/112 80": False,
                     "2001:db8::/111 80": True, "192.0.2.0/24 80": False,
                     "192.0.2.0/23 80": True, "192.0.2.1-9 80": False}
