"""Acceptance (issue 15): `use_vmac` against keepalived 2.2.7, also with use_vmac.

keepalived facts checked on the wire and in the kernel (keepalived/vrrp/vrrp_vmac.c
netlink_link_add_vmac(), vrrp_if_config.c, vrrp.c create_vmac_name()):
- the vmac is a private-mode macvlan named vrrp.VRID with MAC 00:00:5e:00:01:VRID, up, with
  arp_ignore=1, accept_local=1, rp_filter=0 on it and arp_ignore=1, arp_filter=1 on the parent
  (put back when it goes);
- the adverts leave from the virtual MAC and the GARPs announce it (ethernet source and ARP
  sender hardware address);
- the VIP is on the vmac, not on the parent;
- keepalived takes over when haipvs stops and gives back when it returns (preempt).
haipvs-specific: the macvlan is gone after SIGTERM; after SIGKILL and a restart there is
exactly one, the same link (reused, same ifindex).
"""

from __future__ import annotations

import json

import yaml

from integration.harness.instance import VrrpInstance
from integration.harness.requirements import keepalived_interop_marks

pytestmark = keepalived_interop_marks()

VRID = 51
VMAC = f"00:00:5e:00:01:{VRID:02x}"
VMAC_NAME = f"vrrp.{VRID}"
VIP = "192.0.2.100/24"
BASE = VrrpInstance(vrid=VRID, version=3, password=None, vips=(VIP,))


def links(node) -> list[dict]:
    out = node.netns.ip("-d", "-j", "link", "show", check=False).stdout
    return json.loads(out or "[]")


def macvlans(node) -> list[dict]:
    return [link for link in links(node)
            if link.get("linkinfo", {}).get("info_kind") == "macvlan"]


def sysctl(node, ifname: str, key: str) -> int:
    return int(node.netns.run("cat", f"/proc/sys/net/ipv4/conf/{ifname}/{key}").stdout)


def with_vmac_haipvs(daemon) -> None:
    config = yaml.safe_load(daemon.conf_path.read_text())
    config["vrrp_instances"][0]["use_vmac"] = True
    daemon.conf_path.write_text(yaml.safe_dump(config, sort_keys=False))


def with_vmac_keepalived(daemon) -> None:
    text = daemon.conf_path.read_text().replace("    interface eth0\n",
                                                 "    interface eth0\n    use_vmac\n")
    # keepalived puts the VIPs on the vmac unless told `dev`; the harness names eth0.
    text = text.replace(f"{VIP} dev eth0", VIP)
    daemon.conf_path.write_text(text)


def arp_sender_mac(announcement_frame) -> str:
    from scapy.layers.l2 import ARP

    return announcement_frame.scapy()[ARP].hwsrc


def test_use_vmac_interoperates_with_keepalived_and_is_owned(
        lan, sniffer, haipvs_node, keepalived_node):
    node_d, node_k = lan.add_node("d1"), lan.add_node("k1")
    node_d.netns.sysctl("net.ipv4.conf.eth0.arp_ignore", 0)
    keepalived = keepalived_node(node_k, BASE.but(priority=100, state="MASTER"), start=False)
    with_vmac_keepalived(keepalived)
    keepalived.start()
    keepalived.wait_state("MASTER", 6)
    assert node_k.has_address(VIP, VMAC_NAME), "keepalived holds the VIP on its vmac"
    # The oracle: keepalived's own adverts and GARPs carry the virtual MAC too.
    assert sniffer.wait_advert(3, src_ip=node_k.ip).src_mac == VMAC

    haipvs = haipvs_node(node_d, BASE.but(priority=150), start=False)
    with_vmac_haipvs(haipvs)
    haipvs.start()
    haipvs.wait_state("MASTER", 10)
    keepalived.wait_state("BACKUP", 2)

    # The link: as keepalived makes it, marked as haipvs'.
    (vmac,) = macvlans(node_d)
    assert vmac["ifname"] == VMAC_NAME
    assert vmac["address"] == VMAC
    assert vmac["link"] == "eth0"
    assert vmac["linkinfo"]["info_data"]["mode"] == "private"
    assert vmac["ifalias"].startswith("haipvs:vmac VI_1")
    assert "UP" in vmac["flags"]
    assert [sysctl(node_d, VMAC_NAME, k) for k in ("arp_ignore", "accept_local", "rp_filter")] \
        == [1, 1, 0]
    assert [sysctl(node_d, "eth0", k) for k in ("arp_ignore", "arp_filter")] == [1, 1]
    assert node_d.has_address(VIP, VMAC_NAME) and not node_d.has_address(VIP, "eth0")

    # The wire: adverts from the virtual MAC, GARPs announcing it.
    advert = sniffer.wait_advert(3, src_ip=node_d.ip, priority=150)
    assert advert.src_mac == VMAC
    garp = sniffer.wait_announcement(3, ip=VIP.split("/")[0], src_mac=VMAC)
    frames = [f for f in sniffer.frames() if f.announcement == garp]
    assert frames and arp_sender_mac(frames[0]) == VMAC

    # keepalived takes over on SIGTERM; the macvlan goes, the parent's sysctls come back.
    assert haipvs.stop(timeout=5) == 0
    keepalived.wait_state("MASTER", 3)
    assert macvlans(node_d) == []
    assert [sysctl(node_d, "eth0", k) for k in ("arp_ignore", "arp_filter")] == [0, 0]

    # ... and gives back when haipvs returns (preempt).
    haipvs.start()
    haipvs.wait_state("MASTER", 10)
    keepalived.wait_state("BACKUP", 2)
    (first,) = macvlans(node_d)

    # SIGKILL leaves the link; the restart reuses it: exactly one, the same ifindex.
    haipvs.kill()
    keepalived.wait_state("MASTER", 6)
    assert [link["ifindex"] for link in macvlans(node_d)] == [first["ifindex"]]
    assert not node_k.has_address(VIP, "eth0")
    haipvs.start()
    haipvs.wait_state("MASTER", 10)
    keepalived.wait_state("BACKUP", 2)
    (again,) = macvlans(node_d)
    assert again["ifindex"] == first["ifindex"] and again["address"] == VMAC
    assert node_d.has_address(VIP, VMAC_NAME)
    since = sniffer.frames()[-1].ts if sniffer.frames() else 0.0
    assert sniffer.wait_advert(3, since=since, src_ip=node_d.ip).src_mac == VMAC

    assert haipvs.stop(timeout=5) == 0
    keepalived.wait_state("MASTER", 3)
    assert macvlans(node_d) == []
    # The parent's values from before the crash were kept in the mark and put back.
    assert [sysctl(node_d, "eth0", k) for k in ("arp_ignore", "arp_filter")] == [0, 0]


def test_vmac_xmit_base_sends_adverts_from_the_parent_mac_and_garps_from_the_vmac(
        lan, sniffer, haipvs_node, keepalived_node):
    """vrrp.c vrrp_build_ip6 / vrrp_scheduler.c: with vmac_xmit_base the adverts go out over
    the configured interface, so with its MAC; the VIP stays on the vmac and its GARPs
    announce the virtual MAC. keepalived (use_vmac) still hears them and stays BACKUP."""
    node_d, node_k = lan.add_node("d1"), lan.add_node("k1")
    keepalived = keepalived_node(node_k, BASE.but(priority=100, state="MASTER"), start=False)
    with_vmac_keepalived(keepalived)
    keepalived.conf_path.write_text(keepalived.conf_path.read_text().replace(
        "    use_vmac\n", "    use_vmac\n    vmac_xmit_base\n"))
    keepalived.start()
    keepalived.wait_state("MASTER", 6)
    # The oracle: keepalived with vmac_xmit_base sends from its parent's MAC too.
    assert sniffer.wait_advert(3, src_ip=node_k.ip).src_mac == node_k.mac != VMAC
    assert sniffer.wait_announcement(3, ip=VIP.split("/")[0], src_mac=VMAC)

    haipvs = haipvs_node(node_d, BASE.but(priority=150), start=False)
    config = yaml.safe_load(haipvs.conf_path.read_text())
    config["vrrp_instances"][0].update(use_vmac=True, vmac_xmit_base=True)
    haipvs.conf_path.write_text(yaml.safe_dump(config, sort_keys=False))
    haipvs.start()
    haipvs.wait_state("MASTER", 10)
    keepalived.wait_state("BACKUP", 2)
    assert node_d.has_address(VIP, VMAC_NAME)

    advert = sniffer.wait_advert(3, src_ip=node_d.ip, priority=150)
    assert advert.src_mac == node_d.mac != VMAC
    garp = sniffer.wait_announcement(3, ip=VIP.split("/")[0], src_mac=VMAC)
    assert garp.kind == "arp-request"
    # keepalived stays BACKUP for several advert intervals: it hears the base-MAC adverts.
    since = advert.ts
    sniffer.wait_advert(4, since=since + 2.5, src_ip=node_d.ip, priority=150)
    assert keepalived.state() == "BACKUP"
    assert haipvs.stop(timeout=5) == 0
    keepalived.wait_state("MASTER", 3)
    assert macvlans(node_d) == []


def test_reload_adding_and_removing_use_vmac(lan, haipvs_node):
    """A reload that adds use_vmac restarts the instance on its new vmac; one that removes
    it takes the VIP back to the parent and deletes the macvlan (netlink_link_del_vmac)."""
    import signal

    from integration.harness.wait import wait_until

    node_d = lan.add_node("d1")
    haipvs = haipvs_node(node_d, BASE.but(priority=255, state="MASTER"))
    haipvs.wait_state("MASTER", 5)
    assert node_d.has_address(VIP, "eth0") and macvlans(node_d) == []

    with_vmac_haipvs(haipvs)
    haipvs.proc.signal(signal.SIGHUP)
    wait_until(lambda: node_d.has_address(VIP, VMAC_NAME), 10,
               what="the VIP on the vmac after the reload", describe=haipvs.describe)
    assert not node_d.has_address(VIP, "eth0")
    assert [link["address"] for link in macvlans(node_d)] == [VMAC]

    haipvs.write_config([BASE.but(priority=255, state="MASTER")])
    haipvs.proc.signal(signal.SIGHUP)
    wait_until(lambda: node_d.has_address(VIP, "eth0") and not macvlans(node_d), 10,
               what="the VIP back on eth0 and no vmac", describe=haipvs.describe)
    assert haipvs.stop(timeout=5) == 0


def test_ipv6_vmac_against_keepalived(lan, sniffer, haipvs_node, keepalived_node):
    """IPv6: the vmac is 00:00:5e:00:02:VRID, its adverts come from the parent's link-local
    address (vrrp_vmac.c set_link_local_address()) and the virtual MAC, its NAs announce
    the virtual MAC; keepalived (use_vmac) takes over on SIGTERM."""
    vip6 = "2001:db8::100/64"
    base6 = VrrpInstance(vrid=62, version=3, password=None, vips=(vip6,))
    vmac6, name6 = "00:00:5e:00:02:3e", "vrrp.62"
    node_d, node_k = lan.add_node("d1"), lan.add_node("k1")
    keepalived = keepalived_node(node_k, base6.but(priority=100), start=False)
    text = keepalived.conf_path.read_text().replace(
        "    interface eth0\n", "    interface eth0\n    use_vmac\n")
    keepalived.conf_path.write_text(text.replace(f"{vip6} dev eth0", vip6))
    keepalived.start()
    keepalived.wait_state("MASTER", 8)

    haipvs = haipvs_node(node_d, base6.but(priority=150), start=False)
    with_vmac_haipvs(haipvs)
    haipvs.start()
    haipvs.wait_state("MASTER", 10)
    keepalived.wait_state("BACKUP", 2)
    (vmac,) = macvlans(node_d)
    assert (vmac["ifname"], vmac["address"]) == (name6, vmac6)
    assert node_d.has_address(vip6, name6)

    advert = sniffer.wait_advert(3, src_ip=node_d.link_local(), priority=150)
    assert advert.family == 6 and advert.src_mac == vmac6
    na = sniffer.wait_announcement(3, ip="2001:db8::100", src_mac=vmac6)
    assert na.kind == "na"

    assert haipvs.stop(timeout=5) == 0
    keepalived.wait_state("MASTER", 3)
    assert macvlans(node_d) == []


def test_a_link_of_the_vmac_name_haipvs_did_not_create_is_left_alone(lan, haipvs_node):
    """keepalived: "VMAC %s conflicts with existing interface". haipvs refuses to use or
    change a link without its mark, here an operator's macvlan, and says why."""
    node_d = lan.add_node("d1")
    node_d.netns.ip("link", "add", VMAC_NAME, "link", "eth0", "type", "macvlan",
                    "mode", "bridge")
    before = macvlans(node_d)
    haipvs = haipvs_node(node_d, BASE.but(priority=255, state="MASTER"), start=False)
    with_vmac_haipvs(haipvs)
    haipvs.start()
    code = haipvs.proc.wait(10)
    assert code not in (None, 0)
    log = haipvs.log_path.read_text()
    assert "vmac_conflict" in log and "haipvs did not create; set vmac_name" in log
    assert macvlans(node_d) == before
    assert not node_d.has_address(VIP, VMAC_NAME)


def test_parent_link_down_faults_the_vmac_instance_and_up_recovers(lan, haipvs_node):
    """The vmac follows its parent (the kernel's macvlan takes the lower device's carrier):
    keepalived tracks the configured interface of a vmac instance (vrrp.c
    add_vrrp_to_interface(configured_ifp)), so parent down means FAULT, up means back. A
    vmac deleted by hand faults the instance too."""
    node_d = lan.add_node("d1")
    node_d.netns.sysctl("net.ipv4.conf.eth0.arp_ignore", 0)
    haipvs = haipvs_node(node_d, BASE.but(priority=255, state="MASTER"), start=False)
    with_vmac_haipvs(haipvs)
    haipvs.start()
    haipvs.wait_state("MASTER", 5)
    node_d.set_link(False)
    haipvs.wait_state("FAULT", 5)
    assert not node_d.has_address(VIP, VMAC_NAME)
    node_d.set_link(True)
    haipvs.wait_state("MASTER", 8)
    assert node_d.has_address(VIP, VMAC_NAME)
    # Deleted by hand: FAULT, made again at once and back to MASTER, as keepalived
    # (integration/test_vrrp_vmac_lost.py compares the transitions).
    node_d.netns.ip("link", "del", VMAC_NAME)
    from integration.harness.wait import wait_until
    wait_until(lambda: node_d.has_address(VIP, VMAC_NAME), 8, what="the vmac made again")
    assert haipvs.stop(timeout=5) == 0
    # The parent's sysctls still come back (the mark went with the link; haipvs kept a copy
    # and put it in the new link's mark).
    assert [sysctl(node_d, "eth0", k) for k in ("arp_ignore", "arp_filter")] == [0, 0]
