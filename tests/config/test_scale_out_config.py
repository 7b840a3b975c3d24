"""`scale_out` (issue 17, "per-VIP announce mode"; no keepalived counterpart): defaults,
ranges, and the rules between bgp VIPs, VRRP VIPs and NAT virtual servers."""

from __future__ import annotations

import ipaddress
import textwrap

import pytest

from haipvs import limits
from haipvs.config import ConfigError, load_config_text

DR_SERVICE = """\
virtual_servers:
  - address: 192.0.2.10
    port: 80
    lb_kind: DR
    real_servers:
      - {address: 198.51.100.2, port: 80}
"""


def load(text: str):
    return load_config_text("global: {}\n" + textwrap.dedent(text), "t.yaml")


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(text)
    return [str(issue) for issue in caught.value.issues]


def test_per_vip_announce_mode_defaults():
    config = load(DR_SERVICE + "scale_out:\n  vips: [{address: 192.0.2.10}]\n")
    scale = config.scale_out
    assert scale is not None
    assert (scale.table, scale.uplink, scale.rise, scale.fall) == (201, None, 2, 1)
    assert (scale.hold_down, scale.drain_timeout, scale.graceful_shutdown) == (5.0, 30.0, False)
    (vip,) = scale.vips
    assert vip.address == ipaddress.ip_address("192.0.2.10")
    assert (vip.metric, vip.route_metric) == (None, limits.SCALE_OUT_DEFAULT_METRIC)
    assert str(vip.network) == "192.0.2.10/32"


def test_without_scale_out_every_vip_is_vrrps():
    assert load(DR_SERVICE).scale_out is None


def test_ipv6_vip_is_a_128_route():
    config = load("""\
        virtual_servers:
          - {address: "2001:db8::10", port: 80, lb_kind: TUN,
             real_servers: [{address: "2001:db8::2", port: 80}]}
        scale_out:
          table: 4000000000
          uplink: eth0
          rise: 3
          fall: 2
          hold_down: 10
          drain_timeout: 0
          graceful_shutdown: true
          vips: [{address: "2001:db8::10", metric: 20}]
        """)
    (vip,) = config.scale_out.vips
    assert (str(vip.network), vip.route_metric) == ("2001:db8::10/128", 20)
    assert config.scale_out.table == 4000000000


@pytest.mark.parametrize("table", [0, 253, 254, 255])
def test_the_kernels_own_tables_are_refused(table):
    (issue,) = issues(DR_SERVICE + f"scale_out:\n  table: {table}\n  vips: [{{address: "
                      "192.0.2.10}]\n")
    assert issue.startswith("t.yaml:9: scale_out.table: ")
    assert "reserved" in issue


def test_a_vip_in_both_modes_names_both_places():
    (issue,) = issues(textwrap.dedent("""\
        vrrp_instances:
          - {name: VI_1, interface: eth0, virtual_router_id: 51,
             virtual_ipaddress: [192.0.2.10/24]}
        """) + DR_SERVICE + "scale_out:\n  vips: [{address: 192.0.2.10}]\n")
    assert issue.startswith("t.yaml:12: scale_out.vips[0].address: 192.0.2.10 is also a VIP "
                            "of vrrp instance 'VI_1' at line 4")


def test_check_refuses_nat_on_a_bgp_vip_and_says_why():
    text = DR_SERVICE.replace("DR", "NAT") + "scale_out:\n  vips: [{address: 192.0.2.10}]\n"
    (issue,) = issues(text)
    assert issue.startswith("t.yaml:5: virtual_servers[0].lb_kind: 192.0.2.10 is a bgp VIP")
    assert "N active directors" in issue and "use DR or TUN" in issue


def test_nat_real_server_on_a_dr_service_is_refused_too():
    text = DR_SERVICE.replace("port: 80}", "port: 80, lb_kind: NAT}")
    assert "NAT is refused" in issues(text + "scale_out:\n  vips: [{address: 192.0.2.10}]\n")[0]


def test_a_bgp_vip_needs_a_virtual_server_to_decide_its_health():
    (issue,) = issues(DR_SERVICE + "scale_out:\n  vips: [{address: 192.0.2.10}, "
                      "{address: 192.0.2.99}]\n")
    assert "scale_out.vips[1].address: no virtual server has address 192.0.2.99" in issue


def test_a_vip_is_listed_once_and_vips_are_required():
    (issue,) = issues(DR_SERVICE + "scale_out:\n  vips:\n    - {address: 192.0.2.10}\n"
                      "    - {address: 192.0.2.10}\n")
    assert "scale_out.vips[1].address: 192.0.2.10 is already listed at line 10" in issue
    assert any("vips" in i for i in issues(DR_SERVICE + "scale_out: {table: 201}\n"))
