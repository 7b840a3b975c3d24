"""AF_PACKET capture with kernel timestamps, VRRP/ARP/NA decoding via scapy, and injection.

The capture socket is opened inside a netns by a short-lived thread (see
`netns.call_in_netns`); it is receiving as soon as `Sniffer.start()` returns, unlike tcpdump,
which needs about a second before it captures anything.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from integration.harness.netns import call_in_netns
from integration.harness.wait import wait_until

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
IPPROTO_VRRP = 112
IPPROTO_ICMPV6 = 58
ICMPV6_NEIGHBOR_ADVERT = 136
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
VRRP_MULTICAST = ("224.0.0.18", "ff02::12")


def kernel_timestamp(ancdata: list) -> float:
    """The SO_TIMESTAMPNS receive time from recvmsg's ancillary data, else now."""
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", payload[:16])
            return sec + nsec / 1e9
    return time.time()


@dataclass(frozen=True)
class Frame:
    ts: float  # kernel receive time, CLOCK_REALTIME seconds
    data: bytes

    def scapy(self):
        from scapy.layers.l2 import Ether

        return Ether(self.data)

    # Decoded once per frame: waits poll the capture many times over.
    @cached_property
    def advert(self) -> Advert | None:
        return decode_advert(self)

    @cached_property
    def announcement(self) -> Announcement | None:
        return decode_announcement(self)


@dataclass(frozen=True)
class Advert:
    ts: float
    src_mac: str
    src_ip: str
    dst_ip: str
    ttl: int  # hop limit for IPv6
    version: int
    vrid: int
    priority: int
    advert_int: float  # seconds
    addresses: tuple[str, ...]
    auth_type: int | None  # v2 only
    auth: bytes  # v2 auth data (8 bytes), b"" for v3
    family: int

    @property
    def multicast(self) -> bool:
        return self.dst_ip in VRRP_MULTICAST


@dataclass(frozen=True)
class Announcement:
    """A gratuitous ARP (sender IP == target IP) or an unsolicited IPv6 neighbour advert."""

    ts: float
    src_mac: str
    ip: str
    kind: str  # "arp-request", "arp-reply" or "na"


def _is_interesting(data: bytes) -> bool:
    if len(data) < 14:
        return False
    ethertype = struct.unpack_from("!H", data, 12)[0]
    if ethertype == ETH_P_ARP:
        return True
    if ethertype == ETH_P_IP and len(data) >= 34:
        return data[23] == IPPROTO_VRRP
    if ethertype == ETH_P_IPV6 and len(data) >= 54:
        next_header = data[20]
        if next_header == IPPROTO_VRRP:
            return True
        return next_header == IPPROTO_ICMPV6 and data[54] == ICMPV6_NEIGHBOR_ADVERT
    return False


def decode_advert(frame: Frame) -> Advert | None:
    """Decode a VRRP advert with scapy, the independent oracle; None if it is not one."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.vrrp import VRRP, VRRPv3

    pkt = frame.scapy()
    if IP in pkt and pkt[IP].proto == IPPROTO_VRRP:
        ip, family, ttl = pkt[IP], 4, pkt[IP].ttl
    elif IPv6 in pkt and pkt[IPv6].nh == IPPROTO_VRRP:
        ip, family, ttl = pkt[IPv6], 6, pkt[IPv6].hlim
    else:
        return None
    if VRRPv3 in pkt:
        v = pkt[VRRPv3]
        return Advert(frame.ts, pkt.src, ip.src, ip.dst, ttl, 3, v.vrid, v.priority,
                      v.adv / 100.0, tuple(str(a) for a in v.addrlist), None, b"", family)
    if VRRP in pkt:
        v = pkt[VRRP]
        auth = struct.pack("!II", v.auth1, v.auth2)
        return Advert(frame.ts, pkt.src, ip.src, ip.dst, ttl, v.version, v.vrid, v.priority,
                      float(v.adv), tuple(str(a) for a in v.addrlist), v.authtype, auth, family)
    return None


def decode_announcement(frame: Frame) -> Announcement | None:
    from scapy.layers.inet6 import ICMPv6ND_NA
    from scapy.layers.l2 import ARP

    pkt = frame.scapy()
    if ARP in pkt:
        arp = pkt[ARP]
        if arp.psrc == arp.pdst:
            return Announcement(frame.ts, pkt.src, arp.psrc,
                                "arp-request" if arp.op == 1 else "arp-reply")
        return None
    if ICMPv6ND_NA in pkt:
        na = pkt[ICMPv6ND_NA]
        if na.S == 0:  # unsolicited
            return Announcement(frame.ts, pkt.src, na.tgt, "na")
    return None


def _open_capture(iface: str, promisc: bool) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((iface, 0))
        if promisc:
            ifindex = socket.if_nametoindex(iface)
            mreq = struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
            sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        sock.settimeout(0.1)
    except BaseException:
        sock.close()
        raise
    return sock


class Sniffer:
    """Captures VRRP, ARP and IPv6 neighbour adverts on one interface of one netns.

    Sniff on the bridge (`lan.bridge_ns.name`, `lan.bridge`) to see every node's frames
    once, each with the kernel's receive timestamp.
    """

    def __init__(self, netns: str, iface: str, promisc: bool = True,
                 keep: Callable[[bytes], bool] = _is_interesting) -> None:
        self.netns = netns
        self.iface = iface
        self.promisc = promisc
        self._keep = keep
        self._frames: list[Frame] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self) -> Sniffer:
        self._sock = call_in_netns(self.netns, lambda: _open_capture(self.iface, self.promisc))
        self._thread = threading.Thread(target=self._loop, name=f"sniff-{self.iface}",
                                        daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        sock = self._sock
        assert sock is not None
        ancillary_size = socket.CMSG_SPACE(16)
        try:
            while not self._stop.is_set():
                try:
                    data, ancdata, _flags, _addr = sock.recvmsg(65535, ancillary_size)
                except TimeoutError:
                    continue
                if not self._keep(data):
                    continue
                ts = kernel_timestamp(ancdata)
                with self._lock:
                    self._frames.append(Frame(ts, data))
        except OSError as exc:
            if not self._stop.is_set():
                self.error = exc

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Sniffer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- reading what was captured ---

    def frames(self, since: float = 0.0) -> list[Frame]:
        with self._lock:
            return [f for f in self._frames if f.ts >= since]

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()

    def adverts(self, since: float = 0.0, **match: Any) -> list[Advert]:
        """Adverts captured at or after `since`, filtered by Advert fields (src_ip=..., ...)."""
        result = []
        for frame in self.frames(since):
            advert = frame.advert
            if advert is not None and all(getattr(advert, k) == v for k, v in match.items()):
                result.append(advert)
        return result

    def announcements(self, since: float = 0.0, **match: Any) -> list[Announcement]:
        result = []
        for frame in self.frames(since):
            ann = frame.announcement
            if ann is not None and all(getattr(ann, k) == v for k, v in match.items()):
                result.append(ann)
        return result

    def wait_advert(self, timeout: float, since: float = 0.0, **match: Any) -> Advert:
        """The first advert matching `match` at or after `since`, waiting up to `timeout`."""
        found = wait_until(lambda: self.adverts(since, **match), timeout,
                           what=f"a VRRP advert matching {match} since {since:.3f}",
                           describe=self.summary)
        return found[0]

    def wait_announcement(self, timeout: float, since: float = 0.0, **match: Any) -> Announcement:
        found = wait_until(lambda: self.announcements(since, **match), timeout,
                           what=f"a GARP/NA matching {match} since {since:.3f}",
                           describe=self.summary)
        return found[0]

    def summary(self, last: int = 15) -> str:
        lines = []
        for frame in self.frames()[-last:]:
            advert = frame.advert
            if advert is not None:
                lines.append(
                    f"{advert.ts:.3f} VRRPv{advert.version} {advert.src_ip}->{advert.dst_ip} "
                    f"vrid {advert.vrid} prio {advert.priority} ttl {advert.ttl} "
                    f"int {advert.advert_int} addrs {list(advert.addresses)}")
                continue
            ann = frame.announcement
            if ann is not None:
                lines.append(f"{ann.ts:.3f} {ann.kind} {ann.ip} from {ann.src_mac}")
        return f"--- last {len(lines)} captured VRRP/GARP frames ---\n" + "\n".join(lines)


def _send_frames(iface: str, frames: Iterable[bytes]) -> int:
    with contextlib.closing(socket.socket(socket.AF_PACKET, socket.SOCK_RAW)) as sock:
        sock.bind((iface, 0))
        return sum(sock.send(frame) for frame in frames)


def inject(netns: str, iface: str, *packets: Any) -> int:
    """Send scapy packets (or raw frames) out of `iface` in `netns`; returns bytes sent.

    Packets go out exactly as built (no kernel checksums, TTL or routing), which is what
    hostile-packet tests need.
    """
    frames = [p if isinstance(p, bytes | bytearray) else bytes(p) for p in packets]
    return call_in_netns(netns, lambda: _send_frames(iface, frames))


class TcpdumpCapture:
    """tcpdump writing a pcap in a netns: for keeping a capture to look at, or as a second
    opinion on the sniffer. `start()` returns once tcpdump reports "listening on" (it
    captures nothing for about a second after it is launched)."""

    def __init__(self, netns, iface: str, pcap_path, log_path=None) -> None:
        from pathlib import Path

        self.netns = netns
        self.iface = iface
        self.pcap_path = Path(pcap_path)
        self.log_path = Path(log_path) if log_path else self.pcap_path.with_suffix(".log")
        self.proc = None

    def start(self, timeout: float = 10.0) -> TcpdumpCapture:
        import shutil

        from integration.harness.proc import Proc

        binary = shutil.which("tcpdump")
        if binary is None:
            raise RuntimeError("tcpdump is not installed")
        argv = [binary, "-i", self.iface, "-nn", "-e", "-l", "--immediate-mode", "-U",
                "--time-stamp-precision=nano", "-w", str(self.pcap_path),
                "vrrp or arp or ip6 proto 112"]
        self.proc = Proc(self.netns, argv, self.log_path, name="tcpdump")
        wait_until(lambda: "listening on" in self.proc.log_text(), timeout,
                   what="tcpdump to start listening", describe=self.proc.log_tail)
        return self

    def stop(self) -> list[Frame]:
        """Stop tcpdump and return what it wrote, as Frames with pcap timestamps."""
        from scapy.utils import rdpcap

        if self.proc is not None:
            self.proc.stop(timeout=3)
        if not self.pcap_path.exists():
            return []
        return [Frame(float(pkt.time), bytes(pkt)) for pkt in rdpcap(str(self.pcap_path))]
