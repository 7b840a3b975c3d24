"""The independent observer: a node of its own on the director LAN that trusts nothing the
daemons say about themselves except their logs.

* a capture thread (AF_PACKET on the observer's eth0, kernel timestamps) records every VRRP
  advert for the VRID and every ARP frame, parsed by hand here (not by haipvs code);
* a tick thread, every `interval` seconds, sends an ARP who-has for the VIP from the
  observer (replies show whose kernel answers for it) and reads each director's addresses
  (`ip -n NS addr`: who holds the VIP in the kernel);
* the directors' JSON logs give the state each daemon claims (`vrrp_transition` lines).

Everything is recorded with timestamps; `samples()` joins it into invariant Samples after the
run, so a slow poll never skews what the capture saw.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from integration.chaos.invariant import AdvertSeen, Sample
from integration.harness.netns import call_in_netns
from integration.harness.sniffer import _open_capture, kernel_timestamp
from integration.harness.topology import Node

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
IPPROTO_VRRP = 112
BROADCAST = b"\xff" * 6


@dataclass(frozen=True)
class ArpSeen:
    ts: float
    op: int
    sender_mac: str
    sender_ip: str
    target_ip: str


@dataclass(frozen=True)
class Tick:
    ts: float  # when the ARP probe went out
    holders: frozenset[str]


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def parse_frame(ts: float, data: bytes, vrid: int) -> AdvertSeen | ArpSeen | tuple | None:
    """An ArpSeen, a (ts, src_mac, priority) advert tuple for `vrid`, or None."""
    if len(data) < 14:
        return None
    ethertype = struct.unpack_from("!H", data, 12)[0]
    if ethertype == ETH_P_ARP and len(data) >= 42:
        op = struct.unpack_from("!H", data, 20)[0]
        return ArpSeen(ts, op, _mac(data[22:28]), socket.inet_ntoa(data[28:32]),
                       socket.inet_ntoa(data[38:42]))
    if ethertype == ETH_P_IP and len(data) >= 34 and data[23] == IPPROTO_VRRP:
        start = 14 + (data[14] & 0x0F) * 4
        if len(data) >= start + 3 and data[start + 1] == vrid:
            return (ts, _mac(data[6:12]), data[start + 2])
    return None


def arp_request(src_mac: str, src_ip: str, target_ip: str) -> bytes:
    mac = bytes.fromhex(src_mac.replace(":", ""))
    return (BROADCAST + mac + struct.pack("!H", ETH_P_ARP)
            + struct.pack("!HHBBH", 1, ETH_P_IP, 6, 4, 1)
            + mac + socket.inet_aton(src_ip) + b"\x00" * 6 + socket.inet_aton(target_ip))


def _open_sender(iface: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    return sock


def _log_timestamp(text: str) -> float:
    # structlog's TimeStamper(fmt="iso", utc=False): local time, naive; so is .timestamp().
    return datetime.fromisoformat(text).timestamp()


class Observer:
    def __init__(self, node: Node, directors: dict[str, Node], logs: dict[str, Path],
                 vip: str, vrid: int, interval: float = 0.25) -> None:
        self.node = node
        self.directors = directors
        self.logs = logs
        self.vip = vip
        self.vrid = vrid
        self.interval = interval
        self.by_mac = {d.mac: name for name, d in directors.items()}
        self.adverts: list[AdvertSeen] = []
        self.arps: list[ArpSeen] = []
        self.ticks: list[Tick] = []
        self.stopped_at: dict[str, list[float]] = {name: [] for name in directors}
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.capture_ended: float | None = None
        self._threads: list[threading.Thread] = []
        self._capture: socket.socket | None = None
        self._sender: socket.socket | None = None

    # --- running ---

    def start(self) -> Observer:
        self._capture = call_in_netns(self.node.ns, lambda: _open_capture("eth0", True))
        self._sender = call_in_netns(self.node.ns, lambda: _open_sender("eth0"))
        for target, name in ((self._capture_loop, "observer-capture"),
                             (self._tick_loop, "observer-ticks")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        # Capture ends now: a tick whose reply window reaches past this was not fully heard
        # (its ARP reply may arrive after the capture loop left), so samples() drops it.
        self.capture_ended = time.time()
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        for sock in (self._capture, self._sender):
            if sock is not None:
                sock.close()
        self._capture = self._sender = None

    def __enter__(self) -> Observer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _capture_loop(self) -> None:
        sock = self._capture
        assert sock is not None
        ancillary = socket.CMSG_SPACE(16)
        while not self._stop.is_set():
            try:
                data, ancdata, _flags, _addr = sock.recvmsg(2048, ancillary)
            except TimeoutError:
                continue
            except OSError as exc:
                if not self._stop.is_set():
                    self.errors.append(f"capture: {exc!r}")
                return
            ts = kernel_timestamp(ancdata)
            seen = parse_frame(ts, data, self.vrid)
            with self._lock:
                if isinstance(seen, ArpSeen):
                    self.arps.append(seen)
                elif seen is not None:
                    self.adverts.append(AdvertSeen(ts, self.by_mac.get(seen[1]), seen[2]))

    def _tick_loop(self) -> None:
        probe = arp_request(self.node.mac, self.node.ip, self.vip)
        next_at = time.monotonic()
        while not self._stop.is_set():
            sent = time.time()
            try:
                assert self._sender is not None
                self._sender.send(probe)
                holders = frozenset(name for name, d in self.directors.items()
                                    if d.has_address(self.vip))
            except Exception as exc:  # a poll racing teardown; keep the record honest
                if not self._stop.is_set():
                    self.errors.append(f"tick at {sent:.3f}: {exc!r}")
                return
            with self._lock:
                self.ticks.append(Tick(sent, holders))
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    # --- live queries for the runner ---

    def note_stopped(self, name: str, ts: float) -> None:
        """The runner killed `name` at `ts`: it claims nothing until it logs again."""
        with self._lock:
            self.stopped_at[name].append(ts)

    def current_holders(self) -> frozenset[str]:
        with self._lock:
            return self.ticks[-1].holders if self.ticks else frozenset()

    # --- after the run ---

    def claims_timeline(self) -> dict[str, list[tuple[float, str]]]:
        """Per director: (ts, state) from its log's vrrp_transition lines and the kills."""
        timeline: dict[str, list[tuple[float, str]]] = {}
        for name, path in self.logs.items():
            events = [(ts, "STOPPED") for ts in self.stopped_at[name]]
            text = path.read_text(errors="replace") if path.exists() else ""
            for line in text.splitlines():
                if not line.startswith("{"):
                    continue
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    entry = json.loads(line)
                    if entry.get("event") == "vrrp_transition":
                        events.append((_log_timestamp(entry["timestamp"]), entry["new"]))
            timeline[name] = sorted(events)
        return timeline

    def samples(self) -> list[Sample]:
        with self._lock:
            ticks, arps, adverts = list(self.ticks), list(self.arps), list(self.adverts)
        timeline = self.claims_timeline()
        garps = [a for a in arps if a.sender_ip == self.vip and a.target_ip == self.vip]
        replies = [a for a in arps if a.op == 2 and a.sender_ip == self.vip
                   and a.target_ip == self.node.ip]
        samples = []
        g = r = a = 0
        garp_owner: str | None = None
        last_advert: dict[str, float] = {}
        for i, tick in enumerate(ticks):
            while g < len(garps) and garps[g].ts <= tick.ts:
                garp_owner = self.by_mac.get(garps[g].sender_mac, garps[g].sender_mac)
                g += 1
            while a < len(adverts) and adverts[a].ts <= tick.ts:
                if adverts[a].node is not None and adverts[a].priority > 0:
                    last_advert[adverts[a].node] = adverts[a].ts
                a += 1
            window_end = ticks[i + 1].ts if i + 1 < len(ticks) else tick.ts + self.interval
            if self.capture_ended is not None and window_end > self.capture_ended:
                break  # the capture stopped inside this tick's reply window
            while r < len(replies) and replies[r].ts < tick.ts:
                r += 1
            responders = set()
            j = r
            while j < len(replies) and replies[j].ts < window_end:
                responders.add(self.by_mac.get(replies[j].sender_mac, replies[j].sender_mac))
                j += 1
            claims = frozenset(name for name, events in timeline.items()
                               if _state_at(events, tick.ts) == "MASTER")
            samples.append(Sample(tick.ts, tick.holders, claims, frozenset(responders),
                                  garp_owner, dict(last_advert)))
        return samples

    def advert_list(self) -> list[AdvertSeen]:
        with self._lock:
            return list(self.adverts)


def _state_at(events: list[tuple[float, str]], ts: float) -> str | None:
    state = None
    for when, new in events:
        if when > ts:
            break
        state = new
    return state
