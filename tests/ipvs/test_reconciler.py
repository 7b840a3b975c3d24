"""The async Reconciler against a fake kernel, and its behaviour on this host (no IPVS)."""

import contextlib
import errno
import os
import threading

import pytest
import trio

from haipvs.ipvs import protocol as k
from haipvs.ipvs.errors import (
    UNAVAILABLE_MESSAGE,
    IpvsError,
    IpvsExists,
    IpvsMissing,
    IpvsUnavailable,
    UnknownScheduler,
)
from haipvs.ipvs.model import (
    Destination,
    IpvsTable,
    Service,
    ServiceKey,
    SyncDaemonConfig,
    SyncState,
    Timeouts,
)
from haipvs.ipvs.netlink import NetlinkIpvs
from haipvs.ipvs.ops import Op, OpKind, error_for
from haipvs.ipvs.reconcile import Reconciler
from tests.ipvs.fake_ipvs_kernel import FakeIpvsKernel

WEB = ServiceKey.inet("tcp", "192.0.2.100", 80)
DNS = ServiceKey.inet("udp", "192.0.2.100", 53)
RS1 = Destination("198.51.100.10", 8080, weight=1)
RS2 = Destination("198.51.100.11", 8080, weight=2)


def web(*dests, scheduler="wrr"):
    return Service(WEB, scheduler, destinations=dests)


async def wait_for(condition, timeout=5.0):
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.01)


def make(fake: FakeIpvsKernel, **kw) -> Reconciler:
    return Reconciler(transport_factory=fake.reopen, **kw)


async def test_converges_and_second_pass_is_a_noop():
    fake = FakeIpvsKernel()
    rec = make(fake)
    try:
        rec.set_desired(IpvsTable((web(RS1, RS2),)))
        first = await rec.reconcile()
        assert [op.kind for op in first] == [OpKind.ADD_SERVICE, OpKind.ADD_DEST, OpKind.ADD_DEST]
        assert fake.table() == IpvsTable((web(RS1, RS2),))
        assert rec.state == "ok" and rec.error is None
        assert not await rec.reconcile()
        assert [r.op.kind for r in rec.ops_log] == [op.kind for op in first]
    finally:
        rec.close()


async def test_weight_change_is_exactly_one_set_dest_and_foreign_survives():
    foreign = Service(DNS, "rr", destinations=(Destination("198.51.100.20", 53),))
    fake = FakeIpvsKernel(IpvsTable((web(RS1, RS2), foreign)))
    rec = make(fake)
    try:
        rec.set_desired(IpvsTable((web(RS1, Destination("198.51.100.11", 8080, weight=7)),)))
        result = await rec.reconcile()
        assert [str(op) for op in result] == ["set_dest TCP 192.0.2.100:80 -> 198.51.100.11:8080"]
        assert rec.foreign == [DNS]
        assert fake.table().get(DNS) == foreign
    finally:
        rec.close()


async def test_removed_service_is_deleted_after_config_edit():
    fake = FakeIpvsKernel()
    rec = make(fake)
    try:
        rec.set_desired(IpvsTable((web(RS1), Service(DNS, "rr"))))
        await rec.reconcile()
        rec.set_desired(IpvsTable((web(RS1),)))
        result = await rec.reconcile()
        assert [(op.kind, op.service.key) for op in result] == [(OpKind.DEL_SERVICE, DNS)]
        assert DNS not in rec.owned
    finally:
        rec.close()


async def test_eexist_race_is_reconciled_by_redump():
    fake = FakeIpvsKernel()

    def someone_else_adds_rs1(sock, cmd, req):
        if cmd == k.CMD_NEW_DEST and (RS1.address, RS1.port) not in sock.dests[WEB]:
            sock.before = None
            sock.dests[WEB][(RS1.address, RS1.port)] = Destination(
                RS1.address, RS1.port, weight=50)

    fake.before = someone_else_adds_rs1
    rec = make(fake)
    try:
        rec.set_desired(IpvsTable((web(RS1, RS2),)))
        await rec.reconcile()
        assert fake.table() == IpvsTable((web(RS1, RS2),))
        assert rec.state == "ok"
        errors = [r.error for r in rec.ops_log if r.error]
        assert len(errors) == 1 and "already exists" in errors[0]
    finally:
        rec.close()


async def test_enoent_race_on_set_dest_is_reconciled():
    fake = FakeIpvsKernel(IpvsTable((web(RS1, RS2),)))

    def someone_else_deletes_rs2(sock, cmd, req):
        if cmd == k.CMD_SET_DEST:
            sock.before = None
            del sock.dests[WEB][(RS2.address, RS2.port)]

    fake.before = someone_else_deletes_rs2
    rec = make(fake)
    try:
        want = IpvsTable((web(RS1, Destination(RS2.address, RS2.port, weight=9)),))
        rec.set_desired(want)
        await rec.reconcile()
        assert fake.table() == want and rec.state == "ok"
    finally:
        rec.close()


async def test_unknown_scheduler_names_the_module_and_other_services_still_apply():
    fake = FakeIpvsKernel()
    rec = make(fake)
    try:
        rec.set_desired(IpvsTable((web(RS1, scheduler="nosuch"), Service(DNS, "rr"))))
        await rec.reconcile()
        assert rec.state == "error"
        assert "unknown IPVS scheduler 'nosuch'" in rec.error
        assert "kernel module ip_vs_nosuch is missing" in rec.error
        assert fake.table().get(DNS) == Service(DNS, "rr")
    finally:
        rec.close()


async def test_timeouts_and_sync_daemon_follow_the_desired_state():
    fake = FakeIpvsKernel()
    rec = make(fake)
    try:
        master = SyncDaemonConfig(SyncState.MASTER, "eth1", 5)
        rec.set_desired(IpvsTable(), timeouts=Timeouts(tcp=100, udp=30), sync_daemons=[master])
        await rec.reconcile()
        assert fake.timeouts == Timeouts(100, 120, 30)
        assert list(fake.daemons.values()) == [master]
        backup = SyncDaemonConfig(SyncState.BACKUP, "eth1", 5)
        rec.set_desired(IpvsTable(), sync_daemons=[backup])
        await rec.reconcile()
        assert list(fake.daemons.values()) == [backup]
        calls = len(fake.commands)
        await rec.reconcile()
        assert k.CMD_NEW_DAEMON not in fake.commands[calls:]
    finally:
        rec.close()


async def test_unavailable_keeps_desired_and_recovers_on_request():
    fake = FakeIpvsKernel(has_ipvs=False)
    rec = make(fake, retry_initial=60, retry_max=60)
    desired = IpvsTable((web(RS1),))
    rec.set_desired(desired)
    async with trio.open_nursery() as nursery:
        await nursery.start(rec.run)
        await wait_for(lambda: rec.state == "unavailable")
        assert rec.error == UNAVAILABLE_MESSAGE
        assert rec.desired == desired
        assert rec.snapshot()["status"] == "unavailable"
        fake.has_ipvs = True  # `modprobe ip_vs`
        rec.request()  # retry without waiting for back-off
        await wait_for(lambda: rec.state == "ok")
        assert fake.table() == desired
        nursery.cancel_scope.cancel()


async def test_retries_without_ipvs_ask_for_the_family_on_one_socket():
    """The family probe runs in the owner thread on the backend's one socket: retries open
    nothing new, send no IPVS command, and the same socket carries the requests once IPVS
    is there (so no probe socket is left open beside it)."""
    opened = []
    fake = FakeIpvsKernel(has_ipvs=False)

    def factory():
        opened.append(1)
        return fake.reopen()

    rec = Reconciler(transport_factory=factory)
    rec.set_desired(IpvsTable((web(RS1),)))
    for _ in range(3):
        with pytest.raises(IpvsUnavailable):
            await rec.reconcile()
        assert rec.state == "unavailable" and rec.error == UNAVAILABLE_MESSAGE
    assert (opened, fake.family_lookups, fake.commands) == ([1], 3, [])
    fake.has_ipvs = True
    await rec.reconcile()
    assert rec.state == "ok" and opened == [1] and fake.family_lookups == 4
    assert fake.table() == rec.desired
    rec.close()
    assert fake.closed


def test_family_lookup_answers_from_the_kernel():
    backend = NetlinkIpvs()
    try:
        assert backend.lookup_family("nlctrl") == k.GENL_ID_CTRL
        assert backend.lookup_family("haipvs-none") is None
        assert backend.available() == os.path.exists("/proc/net/ip_vs")
    finally:
        backend.close()


@pytest.mark.skipif(os.path.exists("/proc/net/ip_vs"), reason="this kernel has IPVS")
async def test_retries_without_ipvs_reuse_one_probe_socket():
    """Regression (soak): each retry built a thread and pyroute2's IPVS object, and RSS grew
    with one health flap per second on a kernel without IPVS."""
    rec = Reconciler()
    rec.set_desired(IpvsTable((web(RS1),)))
    with pytest.raises(IpvsUnavailable):
        await rec.reconcile()
    fds = len(os.listdir("/proc/self/fd"))
    threads = threading.active_count()
    for _ in range(20):
        with pytest.raises(IpvsUnavailable):
            await rec.reconcile()
    assert len(os.listdir("/proc/self/fd")) == fds
    assert threading.active_count() == threads
    rec.close()
    assert len(os.listdir("/proc/self/fd")) == fds - 1


@pytest.mark.skipif(os.path.exists("/proc/net/ip_vs"), reason="this kernel has IPVS")
async def test_on_this_host_ipvs_is_reported_unavailable_with_a_clear_message():
    backend = NetlinkIpvs()
    with pytest.raises(IpvsUnavailable) as info:
        backend.dump()
    backend.close()
    assert str(info.value) == "IPVS is not available in this kernel (ip_vs module not loaded?)"
    rec = Reconciler(retry_initial=30)
    desired = IpvsTable((web(RS1),))
    async with trio.open_nursery() as nursery:
        await nursery.start(rec.run)
        rec.set_desired(desired)
        await wait_for(lambda: rec.state == "unavailable")
        assert rec.error == UNAVAILABLE_MESSAGE
        assert rec.desired == desired
        nursery.cancel_scope.cancel()


def test_error_mapping():
    svc = Service(WEB, "wrr")
    add = Op(OpKind.ADD_SERVICE, svc)
    err = error_for(errno.ENOENT, add)
    assert isinstance(err, UnknownScheduler) and err.scheduler == "wrr"
    assert str(err) == ("unknown IPVS scheduler 'wrr' for TCP 192.0.2.100:80: kernel module"
                        " ip_vs_wrr is missing")
    assert isinstance(error_for(errno.EEXIST, add), IpvsExists)
    dest = Op(OpKind.DEL_DEST, svc, RS1)
    assert isinstance(error_for(errno.ENOENT, dest), IpvsMissing)
    assert isinstance(error_for(errno.ESRCH, dest), IpvsMissing)
    other = error_for(errno.EINVAL, dest, strerror=os.strerror(errno.EINVAL),
                      reason="address not unicast")
    assert type(other) is IpvsError and other.code == errno.EINVAL
    assert "del_dest TCP 192.0.2.100:80 -> 198.51.100.10:8080" in str(other)
    assert "address not unicast" in str(other)
    plain = error_for(errno.EINVAL, what="set timeouts", strerror="Invalid argument")
    assert str(plain) == ("set timeouts: kernel refused (Invalid argument [22]"
                          " Invalid argument)")


def test_opening_the_ipvs_socket_leaks_no_fds_when_it_fails():
    """Regression: on a kernel without IPVS each (retried) open leaked two netlink fds."""
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = open_fds()
    for _ in range(10):
        backend = NetlinkIpvs()
        with contextlib.suppress(IpvsUnavailable):
            backend.dump()
        backend.close()
    assert open_fds() == before


async def test_wait_first_pass_returns_after_the_first_pass():
    fake = FakeIpvsKernel()
    rec = make(fake)
    rec.set_desired(IpvsTable((web(RS1),)))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(rec.run)
        with trio.fail_after(5):
            await rec.wait_first_pass()
        assert rec.state == "ok"
        nursery.cancel_scope.cancel()


async def test_wait_first_pass_returns_when_ipvs_is_unavailable():
    rec = make(FakeIpvsKernel(has_ipvs=False), retry_initial=60, retry_max=60)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(rec.run)
        with trio.fail_after(5):
            await rec.wait_first_pass()
        assert rec.state == "unavailable"
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(("threshold", "writes"), [(200, 11), (5, 1)])
async def test_small_changes_go_one_request_per_op_big_ones_batched(threshold, writes):
    """Below `batch_threshold` (200) ops each request waits for its ACK; a big change (a
    start with thousands of destinations) goes many messages per write."""
    fake = FakeIpvsKernel()
    rec = make(fake, batch_threshold=threshold)
    try:
        dests = tuple(Destination("198.51.100.10", 8000 + i) for i in range(10))
        rec.set_desired(IpvsTable((web(*dests),)))
        before = fake.writes
        assert len(await rec.reconcile()) == 11
        # one write for the service dump (the kernel has no service yet), then the ops'
        assert fake.writes - before == 1 + writes
        assert fake.table() == rec.desired
    finally:
        rec.close()


async def test_the_socket_is_opened_and_used_only_in_the_owner_thread():
    """Sockets belong to one thread (pyroute2's sync objects leaked one per thread); the
    family probe too runs there, not in a trio worker thread."""
    threads = set()
    fake = FakeIpvsKernel(has_ipvs=False)

    class Recording:
        def __init__(self):
            threads.add(threading.current_thread().name)
            fake.reopen()

        def send(self, data):
            threads.add(threading.current_thread().name)
            return fake.send(data)

        def recv(self, bufsize):
            threads.add(threading.current_thread().name)
            return fake.recv(bufsize)

        def close(self):
            threads.add(threading.current_thread().name)
            fake.close()

    rec = Reconciler(transport_factory=Recording)
    rec.set_desired(IpvsTable((web(RS1),)))
    with pytest.raises(IpvsUnavailable):
        await rec.reconcile()
    fake.has_ipvs = True
    await rec.reconcile()
    rec.close()
    assert threads == {"ipvs-netlink"} and fake.closed
