"""The notify FIFO lines are keepalived 2.2.7's, byte for byte. Each expected line is built
here with keepalived's own C format string (Python's % formats %s, %d and %u as printf
does), quoted with the file and function it comes from; the FIFO plumbing (three FIFOs,
their scripts) follows lib/notify.c and keepalived/core/global_data.c."""

from __future__ import annotations

import dataclasses
import os
import socket
import stat

import pytest
import trio

from haipvs.config.global_defs import global_defaults
from haipvs.events import (
    GroupTransition,
    QuorumEvent,
    RealServerChange,
    VirtualService,
    VrrpTransition,
)
from haipvs.ipvs.model import ServiceKey
from haipvs.notify import EventStream, NotifyFifo, fifo_line, notify_fifos
from haipvs.policy.director import RefreshIpvs, virtual_service
from haipvs.vrrp.messages import State
from tests.policy.director_support import director, events, health

# keepalived/vrrp/vrrp_notify.c notify_fifo (instances: notify_instance_fifo with
# effective_priority; groups: notify_group_fifo with priority 0)
VRRP_FMT = '%s "%s" %s %d\n'
# keepalived/check/ipwrapper.c notify_fifo_rs
RS_FMT = "RS %s %s %s\n"
# keepalived/check/ipwrapper.c notify_fifo_vs
VS_FMT = "VS %s %s\n"
# lib/utils.c inet_sockaddrtotrio_r (FMT_RS always; FMT_VS for an address service)
TRIO_FMT = "[%s]:%s:%d"
# keepalived/check/check_data.c format_vs, fwmark service
FWM_FMT = "FWM %u"

TCP, UDP, SCTP = 6, 17, 132


def line(event) -> str | None:
    """The bytes haipvs writes for the event (fifo_line plus the newline write() adds)."""
    text = fifo_line(event)
    return None if text is None else text + "\n"


def rs_change(virtual: VirtualService, address: str, port: int, up: bool,
              up_changed: bool = True) -> RealServerChange:
    return RealServerChange(service="shown", real_server="shown", up=up, weight=None,
                            reason="", at=0.0, virtual=virtual, rs_address=address,
                            rs_port=port, up_changed=up_changed)


def quorum(virtual: VirtualService, up: bool) -> QuorumEvent:
    return QuorumEvent(service="shown", up=up, weight=0, initial=False, at=0.0,
                       virtual=virtual)


# ---- VRRP: INSTANCE and GROUP ------------------------------------------------------------

@pytest.mark.parametrize("state", [State.MASTER, State.BACKUP, State.FAULT, State.STOP])
def test_instance_line_is_type_quoted_name_state_effective_priority(state):
    event = VrrpTransition(instance="VI_1", old=State.INIT, new=state, reason="r",
                           priority=150, at=0.0)
    assert line(event) == VRRP_FMT % ("INSTANCE", "VI_1", str(state), 150)


def test_group_line_has_priority_zero():
    event = GroupTransition(group="VG_web", old=State.BACKUP, new=State.MASTER, at=0.0)
    assert line(event) == VRRP_FMT % ("GROUP", "VG_web", "MASTER", 0)
    stop = GroupTransition(group="VG_web", old=State.MASTER, new=State.STOP, at=0.0)
    assert line(stop) == VRRP_FMT % ("GROUP", "VG_web", "STOP", 0)


def test_init_is_never_written():
    # vrrp_notify.c: keepalived notifies MASTER, BACKUP, FAULT, STOP (and DELETED), never INIT
    assert fifo_line(VrrpTransition(instance="VI_1", old=State.BACKUP, new=State.INIT,
                                    reason="", priority=100, at=0.0)) is None
    assert fifo_line(GroupTransition(group="G", old=State.BACKUP, new=State.INIT,
                                     at=0.0)) is None


def test_group_lines_come_where_keepalived_writes_them():
    """A group starting BACKUP before its members (vrrp_scheduler.c vrrp_init_state); a
    group FAULT after its members, both at start (a track file's fault, as keepalived 2.2.7
    wrote it) and when one member pulls the other (vrrp_sync.c vrrp_sync_fault)."""
    config = """
vrrp_instances:
  - {name: VI_1, interface: eth0, virtual_router_id: 51, virtual_ipaddress: [192.0.2.1/24]}
  - {name: VI_2, interface: eth0, virtual_router_id: 52, virtual_ipaddress: [192.0.2.2/24]}
vrrp_sync_groups: [{name: G1, group: [VI_1, VI_2]}]
"""

    def lines(policy, *steps):
        out = []
        for name, old, new in steps:
            out += events(policy.handle(0.0, VrrpTransition(
                instance=name, old=old, new=new, reason="", priority=100, at=0.0)))
        return [line(e) for e in out]

    group = [VRRP_FMT % ("GROUP", "G1", state, 0) for state in ("BACKUP", "FAULT")]
    inst = {(n, s): VRRP_FMT % ("INSTANCE", n, s, 100) for n in ("VI_1", "VI_2")
            for s in ("BACKUP", "MASTER", "FAULT")}
    ini, B, M, F = State.INIT, State.BACKUP, State.MASTER, State.FAULT
    assert lines(director(config), ("VI_1", ini, B), ("VI_2", ini, B)) == [
        group[0], inst["VI_1", "BACKUP"], inst["VI_2", "BACKUP"]]
    assert lines(director(config), ("VI_1", ini, F), ("VI_2", ini, F)) == [
        inst["VI_1", "FAULT"], inst["VI_2", "FAULT"], group[1]]
    policy = director(config)
    lines(policy, ("VI_1", ini, M), ("VI_2", ini, M))
    assert lines(policy, ("VI_1", M, F), ("VI_2", M, F)) == [
        inst["VI_1", "FAULT"], inst["VI_2", "FAULT"], group[1]]


# ---- LVS: RS and VS ------------------------------------------------------------------------

def test_rs_line_ipv4_tcp():
    web = VirtualService(TCP, "192.0.2.100", 80)
    assert line(rs_change(web, "198.51.100.15", 8080, up=False)) == RS_FMT % (
        TRIO_FMT % ("198.51.100.15", "tcp", 8080), TRIO_FMT % ("192.0.2.100", "tcp", 80),
        "DOWN")
    # the example: RS [1.2.3.4]:tcp:80 [192.168.201.15]:tcp:80 UP
    assert line(rs_change(VirtualService(TCP, "192.168.201.15", 80), "1.2.3.4", 80, True)
                ) == "RS [1.2.3.4]:tcp:80 [192.168.201.15]:tcp:80 UP\n"


def test_rs_line_udp_and_sctp_use_the_virtual_servers_protocol():
    dns = VirtualService(UDP, "192.0.2.53", 53)
    assert line(rs_change(dns, "198.51.100.53", 53, up=True)) == RS_FMT % (
        TRIO_FMT % ("198.51.100.53", "udp", 53), TRIO_FMT % ("192.0.2.53", "udp", 53), "UP")
    sctp = VirtualService(SCTP, "192.0.2.9", 3868)
    assert line(rs_change(sctp, "198.51.100.9", 3868, up=True)) == RS_FMT % (
        TRIO_FMT % ("198.51.100.9", "sctp", 3868), TRIO_FMT % ("192.0.2.9", "sctp", 3868),
        "UP")


def test_rs_line_ipv6_in_brackets_as_inet_ntop_writes_it():
    # inet_ntop: lower case, longest zero run compressed; haipvs may hold any spelling
    web6 = VirtualService(TCP, "2001:DB8:0:0:0:0:0:100", 443)
    assert line(rs_change(web6, "2001:db8:0:1::0015", 443, up=False)) == RS_FMT % (
        TRIO_FMT % ("2001:db8:0:1::15", "tcp", 443), TRIO_FMT % ("2001:db8::100", "tcp", 443),
        "DOWN")
    # glibc writes an IPv4-mapped address with its dotted tail
    mapped = VirtualService(TCP, "::ffff:c000:264", 80)
    assert line(quorum(mapped, True)) == VS_FMT % (TRIO_FMT % ("::ffff:192.0.2.100", "tcp", 80),
                                                   "UP")


def test_fwmark_service_is_fwm_and_its_real_servers_have_protocol_none():
    # check_data.c validate_check_config sets a fwmark service's protocol to 0, which
    # inet_sockaddrtotrio_r names "none"; a real server without a port has port 0
    mark = virtual_service(ServiceKey.mark(7))
    assert mark == VirtualService(0, "", 0, 7)
    assert line(rs_change(mark, "198.51.100.10", 0, up=True)) == RS_FMT % (
        TRIO_FMT % ("198.51.100.10", "none", 0), FWM_FMT % 7, "UP")
    assert line(quorum(mark, False)) == VS_FMT % (FWM_FMT % 7, "DOWN")
    mark6 = virtual_service(ServiceKey.mark(4294967295, family=socket.AF_INET6))
    assert line(rs_change(mark6, "2001:db8::10", 80, up=False)) == RS_FMT % (
        TRIO_FMT % ("2001:db8::10", "none", 80), FWM_FMT % 4294967295, "DOWN")


@pytest.mark.parametrize("up,word", [(True, "UP"), (False, "DOWN")])
def test_vs_line_on_quorum_change(up, word):
    web = VirtualService(TCP, "192.0.2.100", 80)
    assert line(quorum(web, up)) == VS_FMT % (TRIO_FMT % ("192.0.2.100", "tcp", 80), word)


def test_weight_only_change_writes_no_line():
    # ipwrapper.c update_svr_wgt logs and edits the weight; only do_rs_notifies writes RS
    web = VirtualService(TCP, "192.0.2.100", 80)
    assert fifo_line(rs_change(web, "198.51.100.15", 80, up=True, up_changed=False)) is None


DIRECTOR_CONFIG = """
vrrp_instances: []
virtual_servers:
  - address: 2001:db8::100
    port: 80
    protocol: UDP
    real_servers:
      - {address: "2001:db8::10", port: 8080}
  - fwmark: 9
    lb_kind: DR
    real_servers:
      - {address: 198.51.100.10}
"""


def test_director_events_carry_what_the_lines_need():
    """The director fills the typed fields from its keys; up_changed follows the up/down
    state the director last knew (never reported: up, as keepalived starts a server)."""
    policy = director(DIRECTOR_CONFIG)
    assert events(policy.handle(0.0, RefreshIpvs())) == []  # every server up: quorum held
    v6 = ServiceKey.inet("UDP", "2001:db8::100", 80)
    out = policy.handle(1.0, health("2001:db8::10", False, service=v6))
    assert [line(e) for e in events(out)] == [
        RS_FMT % (TRIO_FMT % ("2001:db8::10", "udp", 8080),
                  TRIO_FMT % ("2001:db8::100", "udp", 80), "DOWN"),
        VS_FMT % (TRIO_FMT % ("2001:db8::100", "udp", 80), "DOWN")]
    mark = ServiceKey.mark(9)
    (event,) = events(policy.handle(2.0, health("198.51.100.10", True, weight=5, service=mark,
                                                port=0)))
    assert (event.up_changed, line(event)) == (False, None)  # was up: only the weight moved
    out = policy.handle(3.0, health("198.51.100.10", False, service=mark, port=0))
    assert [line(e) for e in events(out)] == [
        RS_FMT % (TRIO_FMT % ("198.51.100.10", "none", 0), FWM_FMT % 9, "DOWN"),
        VS_FMT % (FWM_FMT % 9, "DOWN")]


# ---- the three FIFOs -----------------------------------------------------------------------

def settings(**fields):
    return dataclasses.replace(global_defaults(), **fields)


def test_fifos_follow_keepalived_rules_for_shared_paths():
    # global_data.c: a vrrp_/lvs_ FIFO named like notify_fifo is ignored with its script
    fifos, notes = notify_fifos(settings(
        notify_fifo="/run/a", notify_fifo_script=("/bin/a",), vrrp_notify_fifo="/run/a",
        vrrp_notify_fifo_script=("/bin/v",), lvs_notify_fifo="/run/l"))
    assert fifos == (NotifyFifo("/run/a", ("/bin/a",)),
                     NotifyFifo("/run/l", None, vrrp=False, lvs=True))
    assert len(notes) == 1 and "vrrp_notify_fifo /run/a" in notes[0]
    # one path for vrrp_ and lvs_: both kinds of line; with two scripts the vrrp_ one runs
    fifos, notes = notify_fifos(settings(
        vrrp_notify_fifo="/run/x", vrrp_notify_fifo_script=("/bin/v",),
        lvs_notify_fifo="/run/x", lvs_notify_fifo_script=("/bin/l",)))
    assert fifos == (NotifyFifo("/run/x", ("/bin/v",)),) and len(notes) == 1
    fifos, _ = notify_fifos(settings(vrrp_notify_fifo="/run/x", lvs_notify_fifo="/run/x",
                                     lvs_notify_fifo_script=("/bin/l",)))
    assert fifos == (NotifyFifo("/run/x", ("/bin/l",)),)
    assert notify_fifos(global_defaults()) == ((), ())


def read_all(fd: int) -> str:
    try:
        return os.read(fd, 65536).decode()
    except BlockingIOError:
        return ""


def test_vrrp_and_lvs_fifos_carry_their_own_lines_and_notify_fifo_both(tmp_path):
    existing = tmp_path / "lvs.fifo"
    os.mkfifo(existing, 0o600)
    fifos, _ = notify_fifos(settings(notify_fifo=str(tmp_path / "all.fifo"),
                                     vrrp_notify_fifo=str(tmp_path / "vrrp.fifo"),
                                     lvs_notify_fifo=str(existing)))
    stream = EventStream(fifos=fifos)
    old_umask = os.umask(0o022)
    try:
        stream.open()
    finally:
        os.umask(old_umask)
    readers = {name: os.open(tmp_path / name, os.O_RDONLY | os.O_NONBLOCK)
               for name in ("all.fifo", "vrrp.fifo", "lvs.fifo")}
    web = VirtualService(TCP, "192.0.2.100", 80)
    instance = VrrpTransition(instance="VI_1", old=State.BACKUP, new=State.MASTER, reason="",
                              priority=100, at=0.0)
    try:
        for event in (instance, rs_change(web, "198.51.100.1", 80, False), quorum(web, False)):
            stream.write(event)
        got = {name: read_all(fd) for name, fd in readers.items()}
        # lib/notify.c fifo_open: mkfifo with 0644 (less the umask)
        assert stat.S_IMODE((tmp_path / "vrrp.fifo").stat().st_mode) == 0o644
    finally:
        for fd in readers.values():
            os.close(fd)
        stream.close()
    vrrp = VRRP_FMT % ("INSTANCE", "VI_1", "MASTER", 100)
    lvs = (RS_FMT % (TRIO_FMT % ("198.51.100.1", "tcp", 80), TRIO_FMT % ("192.0.2.100", "tcp", 80),
                     "DOWN") + VS_FMT % (TRIO_FMT % ("192.0.2.100", "tcp", 80), "DOWN"))
    assert got == {"all.fifo": vrrp + lvs, "vrrp.fifo": vrrp, "lvs.fifo": lvs}
    # lib/notify.c fifo_close: only a FIFO keepalived created is unlinked
    assert not (tmp_path / "all.fifo").exists() and not (tmp_path / "vrrp.fifo").exists()
    assert stat.S_ISFIFO(existing.stat().st_mode)


async def test_fifo_script_gets_the_fifo_path_last_a_clean_environment_and_sigterm(tmp_path,
                                                                                  monkeypatch):
    """lib/notify.c fifo_open runs the script with the FIFO name appended (add_script_param);
    it reads the lines; at stop it gets SIGTERM (script_killall) on its process group."""
    monkeypatch.setenv("SECRET_TOKEN", "x")
    fifo, out = tmp_path / "n.fifo", tmp_path / "out"
    reader = ("/bin/sh", "-c",
              'trap "echo TERM >> $0.out; exit 0" TERM; echo "$# $0 $1" > $0.out; '
              'env >> $0.out; exec 3<"$1"; while read -r l <&3; do echo "$l" >> $0.out; done',
              str(out))
    stream = EventStream(fifos=[NotifyFifo(str(fifo), reader)])
    stream.open()
    event = GroupTransition(group="G", old=State.BACKUP, new=State.MASTER, at=0.0)
    try:
        with trio.fail_after(5):
            while not (tmp_path / "out.out").exists():
                await trio.sleep(0.02)
            stream.write(event)
            while "GROUP" not in (tmp_path / "out.out").read_text():
                await trio.sleep(0.02)
    finally:
        with trio.fail_after(5):
            await stream.aclose()
    text = (tmp_path / "out.out").read_text().splitlines()
    assert text[0] == f"1 {out} {fifo}"  # sh -c: $0 is the first argument after the script
    assert "SECRET_TOKEN=x" not in text and not any(t.startswith("NOTIFY_") for t in text)
    assert text[-2] + "\n" == VRRP_FMT % ("GROUP", "G", "MASTER", 0)
    assert text[-1] == "TERM"


async def test_fifo_script_ignoring_sigterm_is_killed_a_second_later(tmp_path):
    pid_file = tmp_path / "pid"
    stubborn = ("/bin/sh", "-c", f'trap "" TERM; echo $$ > {pid_file}; '
                'while :; do sleep 0.05; done')
    stream = EventStream(fifos=[NotifyFifo(str(tmp_path / "f"), stubborn)])
    stream.open()
    with trio.fail_after(5):
        while not pid_file.exists() or not pid_file.read_text().strip():
            await trio.sleep(0.02)
        pid = int(pid_file.read_text())
        start = trio.current_time()
        await stream.aclose()
    assert 0.9 <= trio.current_time() - start < 3
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


RELOAD_CONFIG = """
global:
  vrrp_notify_fifo: {tmp}/{name}.fifo
  vrrp_notify_fifo_script: [/bin/sh, -c, 'echo "$$ $1" >> {tmp}/starts; exec sleep 30', sh]
vrrp_instances: []
"""


async def test_a_reload_that_changes_a_fifo_restarts_its_script_on_the_new_fifo(tmp_path):
    """keepalived's reload: script_killall(SIGTERM), fifo_close (unlink), fifo_open anew with
    the (possibly changed) script. haipvs does it when a FIFO setting changed."""
    from haipvs.config import load_config_text
    from haipvs.daemon import Daemon

    def config(name: str):
        return load_config_text(RELOAD_CONFIG.format(tmp=tmp_path, name=name), "fifo.yaml")

    starts = tmp_path / "starts"

    def started() -> list[tuple[int, str]]:
        text = starts.read_text() if starts.exists() else ""
        return [(int(pid), path) for pid, path in (line.split() for line in text.splitlines())]

    daemon = Daemon(config("a"), "fifo.yaml")
    with trio.fail_after(10):
        daemon.configure_outputs(daemon.config)
        while len(started()) < 1:
            await trio.sleep(0.02)
        daemon.configure_outputs(config("a"))  # nothing changed: the script keeps running
        daemon.configure_outputs(config("b"))
        while len(started()) < 2:
            await trio.sleep(0.02)
        (first, first_path), (second, second_path) = started()
        assert (first_path, second_path) == (f"{tmp_path}/a.fifo", f"{tmp_path}/b.fifo")
        assert not (tmp_path / "a.fifo").exists()
        while _alive(first):
            await trio.sleep(0.02)  # SIGTERM ended it
        assert _alive(second)
        await daemon.events.aclose()
    assert not _alive(second) and not (tmp_path / "b.fifo").exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie still answers kill(0): count it dead
        with open(f"/proc/{pid}/stat") as stat_file:
            return stat_file.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False
