"""use_vmac / vmac_name / vmac_xmit_base in the config and in the runtime binding
(keepalived vrrp_parser.c vrrp_vmac_handler(), vrrp.c vrrp_complete_instance())."""

from __future__ import annotations

import pytest

from haipvs.config import ConfigError, load_config_text
from haipvs.vrrp_binding import bindings_from_config

BASE = """{top}vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
{extra}    virtual_ipaddress: [192.0.2.10/24, {{address: 192.0.2.11/24, dev: eth1}}]
"""


def load(extra: str = "", top: str = ""):
    return load_config_text(BASE.format(top=top, extra=extra), "v.yaml")


def test_use_vmac_defaults_off():
    (binding,) = bindings_from_config(load())
    assert binding.vmac is None and binding.ifname == "eth0"


def test_use_vmac_runs_the_instance_on_vrrp_vrid_and_puts_vips_without_dev_there():
    (binding,) = bindings_from_config(load("    use_vmac: true\n"))
    assert binding.ifname == "vrrp.51"
    assert binding.vmac is not None and binding.vmac.parent == "eth0"
    # keepalived: a VIP without `dev` goes on vrrp->ifp, the vmac; an explicit dev stays.
    assert [v.ifname for v in binding.vips] == ["vrrp.51", "eth1"]


def test_vmac_name_names_the_link():
    (binding,) = bindings_from_config(load("    use_vmac: true\n    vmac_name: vip51\n"))
    assert binding.ifname == "vip51" and binding.vmac.name == "vip51"


def test_vmac_xmit_base_is_carried_and_reset_by_global_strict_mode():
    extra = "    use_vmac: true\n    vmac_xmit_base: true\n"
    (binding,) = bindings_from_config(load(extra))
    assert binding.vmac.xmit_base
    # vrrp.c: "xmit_base is incompatible with strict mode - resetting"
    (strict,) = bindings_from_config(load(extra, top="global: {vrrp_strict: true}\n"))
    assert not strict.vmac.xmit_base


@pytest.mark.parametrize("extra, message", [
    ("    vmac_name: vip51\n", "vmac_name applies only with use_vmac: true"),
    ("    vmac_xmit_base: true\n", "vmac_xmit_base applies only with use_vmac: true"),
    ("    use_vmac: true\n    vmac_name: eth0\n", "cannot have the name of `interface`"),
    ("    use_vmac: true\n    vmac_xmit_base: true\n    strict_mode: true\n",
     "incompatible with strict mode"),
])
def test_vmac_settings_refused_with_file_line_and_path(extra, message):
    with pytest.raises(ConfigError) as info:
        load(extra)
    text = str(info.value)
    assert message in text and "v.yaml:" in text


def test_vmac_xmit_base_with_global_vrrp_strict_is_warned_about():
    from haipvs.config.warnings import config_warnings

    extra = "    use_vmac: true\n    vmac_xmit_base: true\n"
    warnings = config_warnings(load(extra, top="global: {vrrp_strict: true}\n"))
    assert [w.where for w in warnings if "xmit_base" in w.message] == [
        "vrrp_instances[VI_1].vmac_xmit_base"]
    assert not [w for w in config_warnings(load(extra)) if "xmit_base" in w.message]


def test_vmac_name_used_by_two_instances_is_refused():
    text = """vrrp_instances:
  - {name: A, interface: eth0, virtual_router_id: 1, use_vmac: true, vmac_name: vm0,
     virtual_ipaddress: [192.0.2.1/24]}
  - {name: B, interface: eth0, virtual_router_id: 2, use_vmac: true, vmac_name: vm0,
     virtual_ipaddress: [192.0.2.2/24]}
"""
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "two.yaml")
    assert "vmac_name vm0 is already used by 'A'" in str(info.value)
