"""Topologies: nodes (one netns each) on a bridge that lives in its own netns.

    bridge netns:  br0 (director LAN, 192.0.2.0/24)   br1.. (extra segments, e.g. 198.51.100.0/24)
                    |  p-<node>                         |  q1-<node>
    node netns:    eth0                                eth1 ...

The host's namespace is never touched. br0 is promiscuous so a sniffer on it sees every
frame any node sends, unicast included, with one kernel timestamp per frame.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field

from integration.harness.netns import Netns

DIRECTOR_SUBNET = "192.0.2.0/24"
REAL_SERVER_SUBNET = "198.51.100.0/24"


@dataclass
class Segment:
    index: int
    bridge: str
    subnet: ipaddress.IPv4Network
    members: dict[str, str] = field(default_factory=dict)  # node name -> address


@dataclass
class Node:
    name: str
    netns: Netns
    index: int
    interfaces: dict[str, str] = field(default_factory=dict)  # iface -> "addr/prefix"
    macs: dict[str, str] = field(default_factory=dict)  # iface -> MAC

    iface = "eth0"

    def __repr__(self) -> str:
        return f"Node({self.name} in {self.netns.name})"

    @property
    def ns(self) -> str:
        return self.netns.name

    @property
    def ip(self) -> str:
        """The node's own address on the director LAN (eth0), without prefix length."""
        return self.interfaces["eth0"].split("/")[0]

    @property
    def mac(self) -> str:
        return self.macs["eth0"]

    def addresses(self, iface: str = "eth0", family: int = 4) -> list[str]:
        """Addresses on `iface` as "addr/prefix" strings, straight from the kernel."""
        out = self.netns.ip("-j", f"-{family}", "addr", "show", "dev", iface).stdout
        result = []
        for link in json.loads(out or "[]"):
            for info in link.get("addr_info", []):
                result.append(f"{info['local']}/{info['prefixlen']}")
        return result

    def has_address(self, address: str, iface: str = "eth0") -> bool:
        """True when `address` ("a.b.c.d" or "a.b.c.d/nn") is configured on `iface`."""
        family = 6 if ":" in address else 4
        want = address if "/" in address else None
        for held in self.addresses(iface, family):
            if held == want or held.split("/")[0] == address.split("/")[0]:
                return True
        return False

    def link_local(self, iface: str = "eth0") -> str | None:
        for addr in self.addresses(iface, 6):
            if addr.lower().startswith("fe80:"):
                return addr.split("/")[0]
        return None

    def set_link(self, up: bool, iface: str = "eth0") -> None:
        self.netns.ip("link", "set", iface, "up" if up else "down")


class Lan:
    """Builds and tears down the bridge netns and the nodes hanging off it."""

    def __init__(self, prefix: str = "hv", subnet: str = DIRECTOR_SUBNET) -> None:
        self.prefix = prefix
        self.bridge_ns = Netns(f"{prefix}br")
        self.nodes: dict[str, Node] = {}
        self.segments: list[Segment] = []
        self._closed = False
        self._quiet_ipv6(self.bridge_ns)
        self.add_segment(subnet)

    @property
    def bridge(self) -> str:
        return self.segments[0].bridge

    @staticmethod
    def _quiet_ipv6(netns: Netns) -> None:
        # No DAD: link-local addresses are usable at once, so tests never wait for them.
        for scope in ("all", "default"):
            netns.sysctl(f"net.ipv6.conf.{scope}.accept_dad", 0)

    def add_segment(self, subnet: str = REAL_SERVER_SUBNET) -> Segment:
        index = len(self.segments)
        bridge = f"br{index}"
        self.bridge_ns.ip("link", "add", bridge, "type", "bridge", "mcast_snooping", "0",
                          "stp_state", "0", "forward_delay", "0")
        self.bridge_ns.ip("link", "set", bridge, "promisc", "on", "up")
        self.bridge_ns.sysctl(f"net.ipv6.conf.{bridge}.disable_ipv6", 1)
        segment = Segment(index, bridge, ipaddress.ip_network(subnet))
        self.segments.append(segment)
        return segment

    def add_node(self, name: str, address: str | None = None, arp_accept: bool = True) -> Node:
        """A node with eth0 on the director LAN; `address` defaults to .<node number>."""
        if name in self.nodes:
            raise ValueError(f"node {name} exists")
        if len(name) > 10:
            raise ValueError("node names must be at most 10 characters (interface name limit)")
        index = len(self.nodes) + 1
        netns = Netns(f"{self.prefix}{name}")
        self._quiet_ipv6(netns)
        if arp_accept:
            # A peer ignores gratuitous ARP for an unknown neighbour unless arp_accept=1.
            for scope in ("all", "default"):
                netns.sysctl(f"net.ipv4.conf.{scope}.arp_accept", 1)
        node = Node(name, netns, index)
        self.nodes[name] = node
        self.attach(node, self.segments[0], address)
        return node

    def attach(self, node: Node, segment: Segment, address: str | None = None) -> str:
        """Connect `node` to `segment` with a new veth; returns the node-side interface name."""
        iface = f"eth{segment.index}"
        port = f"p{segment.index}-{node.name}"
        mac = f"02:48:56:{segment.index:02x}:00:{node.index:02x}"
        if address is None:
            address = str(segment.subnet.network_address + node.index)
        cidr = f"{address}/{segment.subnet.prefixlen}"
        self.bridge_ns.ip("link", "add", port, "type", "veth", "peer", "name", iface,
                          "address", mac, "netns", node.ns)
        self.bridge_ns.ip("link", "set", port, "master", segment.bridge, "up")
        node.netns.ip("addr", "add", cidr, "dev", iface)
        node.netns.ip("link", "set", iface, "up")
        node.interfaces[iface] = cidr
        node.macs[iface] = mac
        segment.members[node.name] = address
        return iface

    def node_by_ip(self, address: str) -> Node | None:
        for node in self.nodes.values():
            if any(cidr.split("/")[0] == address for cidr in node.interfaces.values()):
                return node
        return None

    def node_by_mac(self, mac: str) -> Node | None:
        for node in self.nodes.values():
            if mac.lower() in node.macs.values():
                return node
        return None

    def drop_multicast_vrrp(self) -> None:
        """Bridge-level filter: no frame to 224.0.0.18 / ff02::12 crosses between ports.

        It sits on the forward path, so a sniffer on br0 still sees what nodes *send*
        (the assertion that unicast-mode daemons send no multicast adverts stays meaningful).
        """
        self.bridge_ns.nft(
            "table bridge haipvs_test {\n"
            "  chain forward {\n"
            "    type filter hook forward priority 0; policy accept;\n"
            "    ip daddr 224.0.0.18 drop\n"
            "    ip6 daddr ff02::12 drop\n"
            "  }\n"
            "}\n"
        )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for node in self.nodes.values():
            node.netns.delete()
        self.bridge_ns.delete()

    def __enter__(self) -> Lan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
