"""Kernel-facing details: unknown scheduler, EEXIST/ENOENT races, sync daemon, IPv6, sh/mh."""

from conftest import sh

from haipvs.ipvs.model import (
    AF_INET6,
    SVC_F_MH_FALLBACK,
    SVC_F_MH_PORT,
    SVC_F_SH_FALLBACK,
    SVC_F_SH_PORT,
    Destination,
    ForwardMethod,
    IpvsTable,
    Service,
    ServiceKey,
    SyncDaemonConfig,
    SyncState,
)
from haipvs.ipvs.netlink import NetlinkIpvs
from haipvs.ipvs.reconcile import Reconciler

WEB = ServiceKey.inet("tcp", "192.0.2.100", 80)
RS = [Destination(f"198.51.100.{10 + i}", 8080, weight=1 + i) for i in range(3)]


async def test_unknown_scheduler_names_the_missing_module(director):
    rec = Reconciler(netns=director)
    try:
        rec.set_desired(IpvsTable((Service(WEB, "nosuch"),
                                   Service(ServiceKey.mark(3), "rr"))))
        await rec.reconcile()
        assert rec.state == "error"
        assert ("unknown IPVS scheduler 'nosuch' for TCP 192.0.2.100:80: kernel module"
                " ip_vs_nosuch is missing") in rec.error
        assert "FWM  3 rr" in sh("ipvsadm", "-Ln", ns=director)  # the good one still applied
    finally:
        rec.close()


async def test_eexist_and_enoent_races_are_reconciled(director, monkeypatch):
    want = IpvsTable((Service(WEB, "wrr", destinations=tuple(RS)),))
    rec = Reconciler(netns=director)
    try:
        rec.set_desired(want)
        await rec.reconcile()
        # Someone else changes the kernel between our dump and our ops: the stale dump says
        # RS[0] is missing (ADD -> EEXIST) and an extra destination exists (DEL -> ENOENT).
        stale = IpvsTable((Service(WEB, "wrr", destinations=(
            RS[1], RS[2], Destination("198.51.100.99", 8080))),))
        real_dump = NetlinkIpvs.dump
        calls = []

        def stale_once(sock):
            calls.append(1)
            return stale if len(calls) == 1 else real_dump(sock)

        monkeypatch.setattr(NetlinkIpvs, "dump", stale_once)
        logged = len(rec.ops_log)
        await rec.reconcile()
        errors = [r.error for r in list(rec.ops_log)[logged:] if r.error]
        assert any("already exists" in e for e in errors)
        assert any("no such object" in e for e in errors)
        assert rec.state == "ok", rec.error
        monkeypatch.setattr(NetlinkIpvs, "dump", real_dump)
        assert await rec.call(NetlinkIpvs.dump) == want
    finally:
        rec.close()


async def test_sync_daemon_start_switch_stop(director):
    rec = Reconciler(netns=director)
    try:
        rec.set_desired(IpvsTable(), sync_daemons=[SyncDaemonConfig(SyncState.MASTER, "rs0", 5)])
        await rec.reconcile()
        out = sh("ipvsadm", "-L", "--daemon", ns=director)
        assert out.startswith("master sync daemon (mcast=rs0, syncid=5"), out
        rec.set_desired(IpvsTable(), sync_daemons=[SyncDaemonConfig(SyncState.BACKUP, "rs0", 5)])
        await rec.reconcile()
        out = sh("ipvsadm", "-L", "--daemon", ns=director)
        assert out.startswith("backup sync daemon (mcast=rs0, syncid=5"), out
        assert "master" not in out
        rec.set_desired(IpvsTable(), sync_daemons=[])
        await rec.reconcile()
        assert sh("ipvsadm", "-L", "--daemon", ns=director) == ""
    finally:
        rec.close()


async def test_ipv6_and_sh_mh_flags(director):
    want = IpvsTable((
        Service(ServiceKey.inet("tcp", "2001:db8::100", 443), "sh",
                flags=SVC_F_SH_FALLBACK | SVC_F_SH_PORT, persistence_timeout=60, netmask=64,
                destinations=(Destination("2001:db8:1::10", 443, ForwardMethod.NAT, 2),)),
        Service(ServiceKey.mark(9, AF_INET6), "mh", flags=SVC_F_MH_FALLBACK | SVC_F_MH_PORT,
                destinations=(Destination("2001:db8:1::20", 0, ForwardMethod.DR, 1),)),
        Service(WEB, "mh", flags=SVC_F_MH_PORT, destinations=(RS[0],)),
    ))
    rec = Reconciler(netns=director)
    try:
        rec.set_desired(want)
        await rec.reconcile()
        assert rec.state == "ok", rec.error
        lines = [line.rstrip() for line in sh("ipvsadm", "-Ln", ns=director).splitlines()]
        assert "TCP  [2001:db8::100]:443 sh (sh-fallback,sh-port) persistent 60 mask 64" in lines
        assert "  -> [2001:db8:1::10]:443         Masq    2      0          0" in lines
        assert "FWM  9 IPv6 mh (mh-fallback,mh-port)" in lines
        assert "TCP  192.0.2.100:80 mh (mh-port)" in lines
        assert await rec.call(NetlinkIpvs.dump) == want
        assert not await rec.reconcile()
    finally:
        rec.close()
