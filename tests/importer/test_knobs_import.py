"""The importer's GARP pacing and advert knobs (haipvs/importer/knobs.py): global_defs
vrrp_garp_interval / vrrp_gna_interval / vrrp_mcast_group4 (core/global_parser.c),
garp_group (vrrp_parser.c garp_group_*_handler()), and vrrp_instance unicast_ttl,
mcast_dst_ip, dont_track_primary and `track_interface ... weight W reverse`."""

from __future__ import annotations

from pathlib import Path

from haipvs.config import load_config_text
from haipvs.importer import import_keepalived
from haipvs.importer.notes import NOT_TRANSLATED

CONF = """\
global_defs {
  vrrp_garp_interval 0.05
  vrrp_gna_interval 0.1
  vrrp_mcast_group4 224.0.0.19
  vrrp_garp_extra_if 10 all
}
garp_group {
  garp_interval 0.2
  interfaces {
    eth2
  }
}
vrrp_instance VI_1 {
  interface eth1
  virtual_router_id 51
  dont_track_primary
  track_interface {
    eth3 weight 20 reverse
    eth4
  }
  virtual_ipaddress {
    192.0.2.10
  }
}
vrrp_instance VI_2 {
  interface eth2
  virtual_router_id 52
  unicast_src_ip 192.0.2.1
  unicast_ttl 10
  unicast_peer {
    192.0.2.2
  }
  virtual_ipaddress {
    192.0.2.11
  }
}
vrrp_instance VI_3 {
  interface eth1
  virtual_router_id 53
  unicast_ttl 5
  mcast_dst_ip 224.0.0.20
  virtual_ipaddress {
    192.0.2.12
  }
}
"""


def translate(tmp_path: Path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF)
    result = import_keepalived(conf)
    load_config_text(result.yaml)  # a valid haipvs file
    return result, {i["name"]: i for i in result.document["vrrp_instances"]}


def test_global_intervals_and_garp_group_become_instance_garp(tmp_path: Path):
    _, instances = translate(tmp_path)
    # vrrp_garp_extra_if is every instance's default too (knobs.global_extra_if)
    extra = {"extra_if": 10, "extra_if_all": True}
    assert instances["VI_1"]["garp"] == {"interval": 0.05, "gna_interval": 0.1, **extra}
    # eth2 is in the garp_group: its garp_interval wins over the global one
    assert instances["VI_2"]["garp"] == {"interval": 0.2, "gna_interval": 0.1, **extra}


def test_global_mcast_group_goes_to_multicast_instances_without_their_own(tmp_path: Path):
    _, instances = translate(tmp_path)
    assert instances["VI_1"]["mcast_dst_ip"] == "224.0.0.19"
    assert instances["VI_3"]["mcast_dst_ip"] == "224.0.0.20"
    assert "mcast_dst_ip" not in instances["VI_2"]  # unicast


def test_instance_knobs_translate(tmp_path: Path):
    _, instances = translate(tmp_path)
    assert instances["VI_1"]["dont_track_primary"] is True
    assert instances["VI_1"]["track_interface"] == [
        {"name": "eth3", "weight": 20, "reverse": True}, "eth4"]
    assert instances["VI_2"]["unicast_ttl"] == 10


def test_unicast_ttl_without_peers_is_dropped_as_keepalived_does(tmp_path: Path):
    result, instances = translate(tmp_path)
    assert "unicast_ttl" not in instances["VI_3"]
    notes = {(n.line, n.keyword, n.kind) for n in result.notes}
    assert (40, "unicast_ttl", NOT_TRANSLATED) in notes
    assert not any(k in ("vrrp_garp_interval", "vrrp_gna_interval", "vrrp_mcast_group4",
                         "garp_group", "dont_track_primary", "mcast_dst_ip",
                         "vrrp_garp_extra_if")
                   for _, k, _ in notes), notes
