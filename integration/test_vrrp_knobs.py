"""Acceptance (issue 15, GARP and advert knobs) against keepalived 2.2.7 in network
namespaces:

- garp.interval paces the gratuitous ARPs per interface as keepalived's vrrp_garp_interval
  does (vrrp_arp.c send_gratuitous_arp(), vrrp_scheduler.c vrrp_arp_thread()): the sniffer's
  timestamps show the gap, and keepalived with the same settings sends the same sequence;
- unicast_ttl sets the TTL of unicast adverts (vrrp.c vrrp_build_ip4()) and keepalived, as
  the peer, accepts them (it steps down);
- mcast_dst_ip sends the adverts to another group and listens on it (vrrp_parser.c
  vrrp_mcast_dstip_handler()): keepalived configured with the same group follows haipvs;
- a reverse-weighted track_interface lowers the priority while the interface is up, so
  keepalived takes over, and gives it back when it goes down (vrrp_track.c,
  keepalived_netlink.c process_if_status_change());
- dont_track_primary: the instance's own link going down leaves it MASTER, not FAULT.
"""

from __future__ import annotations

import itertools
import time

import yaml

from integration.harness.instance import VrrpInstance
from integration.harness.requirements import keepalived_interop_marks

pytestmark = keepalived_interop_marks()

VIPS = ("192.0.2.100/24", "192.0.2.101/24", "192.0.2.102/24")
BASE = VrrpInstance(version=2, password="1111", vips=VIPS)
INTERVAL = 0.25  # garp_interval, seconds


def start_haipvs(haipvs_node, node, inst, **extra):
    """haipvs with `extra` keys added to its instance (the harness renders the common ones)."""
    daemon = haipvs_node(node, inst, start=False)
    config = yaml.safe_load(daemon.conf_path.read_text())
    for key, value in extra.items():
        if key == "garp":
            config["vrrp_instances"][0].setdefault("garp", {}).update(value)
        else:
            config["vrrp_instances"][0][key] = value
    daemon.conf_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return daemon.start()


def start_keepalived(keepalived_node, node, inst, instance_lines=(), global_lines=()):
    daemon = keepalived_node(node, inst, start=False)
    text = daemon.conf_path.read_text()
    text = text.replace("    enable_script_security\n",
                        "    enable_script_security\n"
                        + "".join(f"    {line}\n" for line in global_lines), 1)
    text = text.replace(f"    interface {inst.interface}\n",
                        f"    interface {inst.interface}\n"
                        + "".join(f"    {line}\n" for line in instance_lines), 1)
    daemon.conf_path.write_text(text)
    return daemon.start()


def garp_burst(sniffer, mac, since, quiet=1.0, timeout=6.0):
    """The GARPs from `mac` after `since`, once none came for `quiet` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        seen = [a for a in sniffer.announcements(since=since) if a.src_mac == mac]
        if seen and time.time() - seen[-1].ts >= quiet:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"no quiet GARP burst from {mac}: {sniffer.summary()}")


def assert_paced(burst, what):
    gaps = [b.ts - a.ts for a, b in itertools.pairwise(burst)]
    assert gaps and min(gaps) >= INTERVAL - 0.02, f"{what}: gaps {gaps}"


def test_garp_interval_and_unicast_ttl_against_keepalived(
        lan, sniffer, haipvs_node, keepalived_node):
    node_d, node_k = lan.add_node("d1"), lan.add_node("k1")
    # repeat 2 over 3 VIPs with no second burst: keepalived sends V1 at once, then the
    # pending V1, V2, V3 one interval apart (one pending flag per address, sent in VIP
    # list order).
    garp = {"master_repeat": 2, "master_delay": 0}
    d_inst = BASE.but(priority=150, unicast_src_ip=node_d.ip, unicast_peers=[node_k.ip],
                      garp=garp)
    k_inst = BASE.but(priority=100, state="MASTER", unicast_src_ip=node_k.ip,
                      unicast_peers=[node_d.ip], garp=garp)
    keepalived = start_keepalived(keepalived_node, node_k, k_inst,
                                  global_lines=[f"vrrp_garp_interval {INTERVAL}"])
    keepalived.wait_state("MASTER", 6)
    k_burst = garp_burst(sniffer, node_k.mac, since=0)

    since = time.time()
    haipvs = start_haipvs(haipvs_node, node_d, d_inst, unicast_ttl=7,
                          garp={"interval": INTERVAL})
    haipvs.wait_state("MASTER", 8)
    keepalived.wait_state("BACKUP", 3)  # it accepted the TTL 7 adverts
    advert = sniffer.wait_advert(2, since=since, src_ip=node_d.ip, priority=150)
    assert advert.ttl == 7 and advert.dst_ip == node_k.ip
    d_burst = garp_burst(sniffer, node_d.mac, since=since)

    assert_paced(d_burst, "haipvs")
    assert_paced(k_burst, "keepalived")
    assert [a.ip for a in d_burst] == [a.ip for a in k_burst] == [
        "192.0.2.100", "192.0.2.100", "192.0.2.101", "192.0.2.102"]


def test_mcast_dst_ip_is_shared_with_keepalived(lan, sniffer, haipvs_node, keepalived_node):
    group = "224.0.0.19"
    node_d, node_k = lan.add_node("d1"), lan.add_node("k1")
    haipvs = start_haipvs(haipvs_node, node_d, BASE.but(priority=100, state="MASTER"),
                          mcast_dst_ip=group)
    haipvs.wait_state("MASTER", 6)
    advert = sniffer.wait_advert(3, src_ip=node_d.ip)
    assert advert.dst_ip == group

    keepalived = start_keepalived(keepalived_node, node_k, BASE.but(priority=150),
                                  instance_lines=[f"mcast_dst_ip {group}"])
    keepalived.wait_state("MASTER", 8)
    haipvs.wait_state("BACKUP", 3)  # haipvs heard keepalived on the group
    assert sniffer.wait_advert(2, src_ip=node_k.ip).dst_ip == group

    keepalived.stop(timeout=5)
    haipvs.wait_state("MASTER", 3)
    assert not sniffer.adverts(src_ip=node_d.ip, dst_ip="224.0.0.18")


def test_reverse_track_interface_and_dont_track_primary(
        lan, sniffer, haipvs_node, keepalived_node):
    node_d, node_k = lan.add_node("d1"), lan.add_node("k1")
    # a veth pair inside the node: trk0 starts down (no deduction); its peer is up so
    # that trk0 gets a carrier when it is set up
    node_d.netns.ip("link", "add", "trk0", "type", "veth", "peer", "name", "trk1")
    node_d.netns.ip("link", "set", "trk1", "up")
    haipvs = start_haipvs(haipvs_node, node_d, BASE.but(priority=150),
                          track_interface=[{"name": "trk0", "weight": 60, "reverse": True}],
                          dont_track_primary=True)
    keepalived = start_keepalived(keepalived_node, node_k, BASE.but(priority=120))
    haipvs.wait_state("MASTER", 8)
    keepalived.wait_state("BACKUP", 3)

    node_d.netns.ip("link", "set", "trk0", "up")  # reverse: 150 - 60 = 90 < 120
    keepalived.wait_state("MASTER", 5)
    haipvs.wait_state("BACKUP", 3)
    assert haipvs.instance_dump()["effective_priority"] == 90
    sniffer.wait_advert(3, since=time.time(), src_ip=node_k.ip, priority=120)

    node_d.netns.ip("link", "set", "trk0", "down")  # back to 150: haipvs preempts
    haipvs.wait_state("MASTER", 5)
    keepalived.wait_state("BACKUP", 3)

    node_d.set_link(False)  # dont_track_primary: no FAULT
    time.sleep(1.5)
    assert haipvs.state() == "MASTER"
    assert not haipvs.instance_dump().get("fault_reasons")
