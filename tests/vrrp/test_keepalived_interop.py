"""Byte-for-byte interop of the core's codec and ladder with keepalived 2.2.7.

keepalived runs in its own network namespace, joined by a veth pair to a second namespace
where we capture and send. Both directions:
- keepalived → us: its v2 PASS, v3 IPv4 and v3 IPv6 adverts pass our ladder, and our
  encoder produces exactly the same bytes for the same instance parameters;
- us → keepalived: our higher-priority adverts make each keepalived MASTER step down.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from haipvs.vrrp.core import (
    Datagram,
    Dispatcher,
    InstanceParams,
    VrrpMachine,
    encode_advert,
    parse_ipv4_datagram,
)

pytestmark = [
    pytest.mark.netns,
    pytest.mark.keepalived,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
    pytest.mark.skipif(shutil.which("keepalived") is None, reason="keepalived not installed"),
    pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump not installed"),
]

ip = ipaddress.ip_address
KA_ADDR, OUR_ADDR = "192.0.2.1", "192.0.2.2"

INSTANCES = {
    (4, 51): InstanceParams("v2", 51, (ip("192.0.2.100"),), auth_pass=b"1111"),
    (4, 52): InstanceParams(
        "v3", 52, (ip("192.0.2.101"), ip("192.0.2.102")), version=3, advert_int=0.5
    ),
    (6, 53): InstanceParams("v6", 53, (ip("2001:db8::100"),), version=3, family=6),
}

KEEPALIVED_CONF = """
global_defs {{
  router_id haipvs_interop
  enable_script_security
}}
vrrp_instance v2 {{
  interface {dev}
  state BACKUP
  virtual_router_id 51
  priority 100
  advert_int 1
  authentication {{
    auth_type PASS
    auth_pass 1111
  }}
  virtual_ipaddress {{
    192.0.2.100/32
  }}
}}
vrrp_instance v3 {{
  version 3
  interface {dev}
  state BACKUP
  virtual_router_id 52
  priority 100
  advert_int 0.5
  virtual_ipaddress {{
    192.0.2.101/32
    192.0.2.102/32
  }}
}}
vrrp_instance v6 {{
  version 3
  interface {dev}
  state BACKUP
  virtual_router_id 53
  priority 100
  advert_int 1
  virtual_ipaddress {{
    2001:db8::100/128
  }}
}}
"""

# Runs inside our namespace: send priority-200 adverts for every instance, paced at 0.25 s.
SENDER = """
import ipaddress, socket, sys, time
from haipvs.vrrp.core import InstanceParams, VrrpMachine, encode_advert
ifindex, src4, src6, rounds = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
ip = ipaddress.ip_address
instances = [
    InstanceParams("v2", 51, (ip("192.0.2.100"),), auth_pass=b"1111"),
    InstanceParams("v3", 52, (ip("192.0.2.101"), ip("192.0.2.102")), version=3, advert_int=0.5),
    InstanceParams("v6", 53, (ip("2001:db8::100"),), version=3, family=6),
]
s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s4.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
s4.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(src4))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112)
s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
for _ in range(rounds):
    for p in instances:
        advert = VrrpMachine(p).advert(200)
        if p.family == 4:
            s4.sendto(encode_advert(advert, ip(src4), ip("224.0.0.18")), ("224.0.0.18", 0))
        else:
            message = encode_advert(advert, ip(src6), ip("ff02::12"))
            s6.sendto(message, ("ff02::12", 0, 0, ifindex))
    time.sleep(0.25)
"""


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def link(tmp_path: Path):
    """Two namespaces joined by a veth pair; removed again even when the test fails."""
    suffix = secrets.token_hex(3)
    ka_ns, our_ns = f"hvka{suffix}", f"hvus{suffix}"
    ka_dev, our_dev = f"hvk{suffix}", f"hvu{suffix}"
    created = []
    try:
        for ns in (ka_ns, our_ns):
            _run("ip", "netns", "add", ns)
            created.append(ns)
            _run(
                "ip",
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
            )
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        _run(
            "ip",
            "link",
            "add",
            ka_dev,
            "netns",
            ka_ns,
            "type",
            "veth",
            "peer",
            "name",
            our_dev,
            "netns",
            our_ns,
        )
        _run("ip", "-n", ka_ns, "addr", "add", f"{KA_ADDR}/24", "dev", ka_dev)
        _run("ip", "-n", our_ns, "addr", "add", f"{OUR_ADDR}/24", "dev", our_dev)
        _run("ip", "-n", ka_ns, "link", "set", ka_dev, "up")
        _run("ip", "-n", our_ns, "link", "set", our_dev, "up")
        yield ka_ns, our_ns, ka_dev, our_dev
    finally:
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], check=False)


@pytest.fixture
def keepalived(link, tmp_path: Path):
    ka_ns, _, ka_dev, _ = link
    conf = tmp_path / "keepalived.conf"
    conf.write_text(KEEPALIVED_CONF.format(dev=ka_dev))
    log_path = tmp_path / "keepalived.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ka_ns,
                "keepalived",
                "-n",
                "-l",
                "-D",
                "-f",
                str(conf),
                "-p",
                str(tmp_path / "ka.pid"),
                "-r",
                str(tmp_path / "vrrp.pid"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _capture(our_ns: str, our_dev: str, pcap: Path, count: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            our_ns,
            "tcpdump",
            "-U",
            "-i",
            our_dev,
            "-c",
            str(count),
            "-w",
            str(pcap),
            "ip proto 112 or ip6 proto 112",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_keepalived_adverts_pass_our_ladder_and_match_our_encoder(link, keepalived, tmp_path):
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import rdpcap

    _, our_ns, _, our_dev = link
    pcap = tmp_path / "adverts.pcap"
    capture = _capture(our_ns, our_dev, pcap, 24)
    try:
        capture.wait(timeout=20)
    finally:
        if capture.poll() is None:
            capture.kill()
            capture.wait()
    dispatchers = {4: Dispatcher(), 6: Dispatcher()}
    machines = {}
    for (family, vrid), params in INSTANCES.items():
        machines[(family, vrid)] = VrrpMachine(params)
        dispatchers[family].add(machines[(family, vrid)])
    seen = set()
    for frame in rdpcap(str(pcap)):
        if IP in frame:
            datagram = parse_ipv4_datagram(bytes(frame[IP]))
        else:
            header = frame[IPv6]
            datagram = Datagram(6, ip(header.src), ip(header.dst), header.hlim, bytes(header)[40:])
        verdict = dispatchers[datagram.family].receive(1.0, datagram)
        assert verdict.reason is None, (verdict.reason, bytes(datagram.payload).hex())
        advert = verdict.advert
        ours = encode_advert(
            machines[(datagram.family, advert.vrid)].advert(advert.priority),
            datagram.src,
            datagram.dst,
        )
        assert ours == datagram.payload
        seen.add((datagram.family, advert.vrid))
    assert seen == set(INSTANCES)


def _stepped_down(log: str, name: str) -> bool:
    became_master = log.find(f"({name}) Entering MASTER STATE")
    return became_master >= 0 and f"({name}) Entering BACKUP STATE" in log[became_master:]


def _sender_alive(sender: subprocess.Popen) -> bool:
    if sender.poll() not in (None, 0):
        raise AssertionError(f"advert sender failed with exit status {sender.returncode}")
    return True


def test_our_adverts_make_keepalived_step_down(link, keepalived, tmp_path):
    _, our_ns, _, our_dev = link
    for name in ("v2", "v3", "v6"):
        _wait_for(
            lambda name=name: f"({name}) Entering MASTER STATE" in keepalived.read_text(),
            15,
            f"keepalived {name} to become MASTER",
        )
    link_local = (
        _run("ip", "-n", our_ns, "-6", "-o", "addr", "show", "dev", our_dev, "scope", "link")
        .split()[3]
        .split("/")[0]
    )
    ifindex = _run("ip", "-n", our_ns, "-o", "link", "show", our_dev).split(":")[0]
    sender = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            our_ns,
            sys.executable,
            "-c",
            SENDER,
            ifindex,
            OUR_ADDR,
            link_local,
            "40",
        ],
    )
    try:
        for name in ("v2", "v3", "v6"):
            _wait_for(
                lambda name=name: (
                    _sender_alive(sender) and _stepped_down(keepalived.read_text(), name)
                ),
                10,
                f"keepalived {name} to step down",
            )
    finally:
        if sender.poll() is None:
            sender.kill()
        sender.wait(timeout=5)
    log = keepalived.read_text()
    assert "checksum" not in log.lower()
    for name in ("v2", "v3", "v6"):
        assert f"({name}) Master received advert from" in log
