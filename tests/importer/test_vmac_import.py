"""keepalived's use_vmac / vmac_xmit_base / use_ipvlan -> haipvs (haipvs/importer/vmac.py),
with keepalived 2.2.7's rules (vrrp_parser.c vrrp_vmac_handler(), vrrp.c
vrrp_complete_instance())."""

from __future__ import annotations

from pathlib import Path

from haipvs.config import load_config_text
from haipvs.importer import import_keepalived
from haipvs.importer.notes import CHANGED, NOT_TRANSLATED
from haipvs.vrrp_binding import bindings_from_config

INSTANCE = """{top}vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
{body}
    virtual_ipaddress {{
        192.0.2.100/24
    }}
}}
"""


def run(tmp_path: Path, body: str, top: str = ""):
    path = tmp_path / "keepalived.conf"
    path.write_text(INSTANCE.format(body=body, top=top))
    result = import_keepalived(path, display="keepalived.conf")
    return load_config_text(result.yaml, "imported.yaml"), result


def test_use_vmac_without_a_name(tmp_path: Path):
    config, result = run(tmp_path, "    use_vmac")
    (instance,) = config.vrrp_instances
    assert instance.use_vmac and instance.vmac_name is None
    assert bindings_from_config(config)[0].ifname == "vrrp.51"
    assert not result.notes


def test_use_vmac_with_a_name_and_xmit_base(tmp_path: Path):
    config, result = run(tmp_path, "    use_vmac vrrp51\n    vmac_xmit_base")
    (instance,) = config.vrrp_instances
    assert (instance.use_vmac, instance.vmac_name, instance.vmac_xmit_base) == (
        True, "vrrp51", True)
    assert not result.notes


def test_use_vmac_mac_is_not_translated(tmp_path: Path):
    config, result = run(tmp_path, "    use_vmac vm51 02:11:22:33:44:55")
    (instance,) = config.vrrp_instances
    assert instance.vmac_name == "vm51"
    assert [(n.line, n.kind) for n in result.notes] == [(4, NOT_TRANSLATED)]
    assert "RFC 5798 virtual MAC" in result.notes[0].why


def test_vmac_xmit_base_without_use_vmac_is_cleared_as_keepalived_does(tmp_path: Path):
    config, result = run(tmp_path, "    vmac_xmit_base")
    assert not config.vrrp_instances[0].vmac_xmit_base
    assert [(n.line, n.kind) for n in result.notes] == [(4, CHANGED)]
    assert "only valid with a vmac" in result.notes[0].why


def test_vmac_xmit_base_in_strict_mode_is_cleared_as_keepalived_does(tmp_path: Path):
    config, result = run(tmp_path, "    use_vmac\n    vmac_xmit_base\n    strict_mode")
    assert not config.vrrp_instances[0].vmac_xmit_base
    assert [n.kind for n in result.notes if n.keyword == "vmac_xmit_base"] == [CHANGED]


def test_use_ipvlan_is_not_translated(tmp_path: Path):
    config, result = run(tmp_path, "    use_ipvlan")
    assert not config.vrrp_instances[0].use_vmac
    assert [n.kind for n in result.notes] == [NOT_TRANSLATED]
    assert "ipvlan" in result.notes[0].why
