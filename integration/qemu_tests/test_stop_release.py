"""Stop semantics against the real kernel IPVS table, as keepalived 2.2.7: a graceful stop
removes the services the director programmed (keepalived/check/check_daemon.c
`checker_terminate_phase1` -> ipwrapper.c `clear_services`) unless started with `-I` /
`--dont-release-ipvs`; a service someone else added is never touched. With `-I` the next
start adopts the table through the ownership ledger instead of re-adding it.

Runs only in the qemu guest:

    integration/qemu/run-in-guest -- .venv/bin/python -m pytest -p no:cacheprovider \
        integration/qemu_tests/test_stop_release.py
"""

from __future__ import annotations

import ipaddress
import json
import signal
import subprocess
import sys
from pathlib import Path

from conftest import sh
from guest_wait import DEADLINE, wait_until

CONFIG = """
global: {router_id: guest, state_dir: STATE, pid_file: STATE/haipvs.pid}
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    priority: 255
    advert_int: 1
    virtual_ipaddress: [192.0.2.100/24]
virtual_servers:
  - address: 192.0.2.100
    port: 80
    protocol: TCP
    lb_algo: rr
    lb_kind: NAT
    real_servers:
      - {address: 198.51.100.11, port: 8080}
      - {address: 198.51.100.12, port: 8080}
  - address: 192.0.2.100
    port: 443
    protocol: TCP
    lb_algo: wrr
    lb_kind: NAT
    real_servers:
      - {address: 198.51.100.11, port: 8443}
"""
OURS = {"TCP 192.0.2.100:80", "TCP 192.0.2.100:443"}
FOREIGN = "UDP 192.0.2.200:53"




def services(ns: str) -> set[str]:
    """Virtual services in `ipvsadm -Ln` (the independent view), as "TCP addr:port"."""
    found = set()
    for line in sh("ipvsadm", "-Ln", ns=ns).splitlines():
        fields = line.split()
        if fields and fields[0] in ("TCP", "UDP", "SCTP", "FWM"):
            found.add(f"{fields[0]} {fields[1]}")
    return found


class Daemon:
    def __init__(self, netns, ns: str, tmp_path: Path, *args: str, text: str = CONFIG) -> None:
        self.state = tmp_path / "state"
        config = tmp_path / "lvs.yaml"
        config.write_text(text.replace("STATE", str(self.state)))
        self.log_path = tmp_path / f"haipvs-{len(list(tmp_path.glob('haipvs-*.log')))}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = netns.popen(ns, sys.executable, "-m", "haipvs", "--config", str(config),
                                "--log-format", "json", *args, stdout=self._log,
                                stderr=subprocess.STDOUT)

    def events(self) -> list[str]:
        return [json.loads(line).get("event") for line in self.log_path.read_text().splitlines()
                if line.startswith("{")]

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=DEADLINE)
        finally:
            self._log.close()
            print(self.log_path.read_text()[-3000:])


def dests(ns: str, service: str) -> list[str]:
    """The real servers of IPv4 TCP `service` ("192.0.2.100:80") in the kernel's list order,
    from /proc/net/ip_vs (ip_vs_ctl.c ip_vs_info_seq_show walks svc->destinations; `ipvsadm
    -Ln` sorts them, so it cannot show the order)."""
    def hexed(text: str) -> str:
        addr, port = text.rsplit(":", 1)
        return f"{int(ipaddress.IPv4Address(addr)):08X}:{int(port):04X}"

    def dotted(text: str) -> str:
        addr, port = text.split(":")
        return f"{ipaddress.IPv4Address(int(addr, 16))}:{int(port, 16)}"

    found: list[str] = []
    inside = False
    for line in sh("cat", "/proc/net/ip_vs", ns=ns).splitlines():
        fields = line.split()
        if fields and fields[0] in ("TCP", "UDP", "SCTP", "FWM"):
            inside = fields[:2] == ["TCP", hexed(service)]
        elif inside and fields and fields[0] == "->":
            found.append(dotted(fields[1]))
    return found


def setup(director: str) -> None:
    sh("ip", "link", "add", "eth0", "type", "dummy", ns=director)
    sh("ip", "link", "set", "eth0", "up", ns=director)
    sh("ip", "addr", "add", "192.0.2.1/24", "dev", "eth0", ns=director)
    sh("ipvsadm", "-A", "-u", "192.0.2.200:53", "-s", "rr", ns=director)  # not haipvs's


def test_a_graceful_stop_removes_owned_services_and_keeps_foreign(netns, director, tmp_path):
    setup(director)
    daemon = Daemon(netns, director, tmp_path)
    wait_until(lambda: services(director) == OURS | {FOREIGN}, "haipvs's services programmed")
    assert daemon.stop() == 0
    assert services(director) == {FOREIGN}
    assert "ipvs_services_released" in daemon.events()


def test_dont_release_ipvs_keeps_the_table_and_the_next_start_adopts_it(netns, director,
                                                                       tmp_path):
    setup(director)
    first = Daemon(netns, director, tmp_path, "--dont-release-ipvs")
    wait_until(lambda: services(director) == OURS | {FOREIGN}, "haipvs's services programmed")
    assert first.stop() == 0
    assert services(director) == OURS | {FOREIGN}
    assert "ipvs_services_kept" in first.events()

    second = Daemon(netns, director, tmp_path)  # no -I: this one releases at its stop
    wait_until(lambda: "haipvs_ready" in second.events(), "the second start ready")
    # Adopted: nothing was added again.
    assert "ipvs_add_service" not in second.events()
    assert services(director) == OURS | {FOREIGN}
    assert second.stop(signal.SIGQUIT) == 0  # QUIT is a graceful stop too
    assert services(director) == {FOREIGN}


def test_lvs_flush_re_creates_owned_services_once_at_start_and_keeps_foreign(netns, director,
                                                                            tmp_path):
    """global.lvs_flush (keepalived lvs_flush, check_daemon.c start_check: once at start, not on
    reload): the owned services are deleted and built afresh, so the kernel's real-server order
    is a fresh start's again; the foreign service is still there."""
    setup(director)
    first = Daemon(netns, director, tmp_path, "--dont-release-ipvs")
    wait_until(lambda: services(director) == OURS | {FOREIGN}, "haipvs's services programmed")
    assert first.stop() == 0
    programmed = dests(director, "192.0.2.100:80")
    assert sorted(programmed) == ["198.51.100.11:8080", "198.51.100.12:8080"]
    # By hand while haipvs is down: one real server out and back, which moves it in the
    # kernel's list (to the other end: the order depends only on the adds).
    for moved in programmed:
        sh("ipvsadm", "-d", "-t", "192.0.2.100:80", "-r", moved, ns=director)
        sh("ipvsadm", "-a", "-t", "192.0.2.100:80", "-r", moved, "-m", ns=director)
        if dests(director, "192.0.2.100:80") != programmed:
            break
    assert dests(director, "192.0.2.100:80") == programmed[::-1]

    flushing = CONFIG.replace("router_id: guest,", "router_id: guest, lvs_flush: true,")
    second = Daemon(netns, director, tmp_path, text=flushing)
    wait_until(lambda: "haipvs_ready" in second.events(), "the flushing start ready")
    events = second.events()
    assert "ipvs_flushed_owned_at_start" in events
    assert events.count("ipvs_add_service") == 2
    assert dests(director, "192.0.2.100:80") == programmed  # as a fresh start builds it
    assert services(director) == OURS | {FOREIGN}
    assert second.stop() == 0
    assert services(director) == {FOREIGN}
