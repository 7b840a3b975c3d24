"""The one IPVS backend (NetlinkIpvs) against the byte-level fake kernel: the production
encoder and decoder, the per-op and batched paths, GETs without ACK, receive sizes."""

import errno

import pytest

from haipvs.ipvs import protocol as p
from haipvs.ipvs.backend import IpvsBackend, NetlinkTransport
from haipvs.ipvs.errors import IpvsError, IpvsExists, IpvsUnavailable
from haipvs.ipvs.model import (
    Destination,
    ForwardMethod,
    IpvsTable,
    Service,
    ServiceKey,
    SyncDaemonConfig,
    SyncState,
    Timeouts,
    TunnelType,
)
from haipvs.ipvs.netlink import BATCH_WINDOW, NetlinkIpvs
from haipvs.ipvs.ops import Op, OpKind, SetTimeouts, StartSyncDaemon, StopSyncDaemon
from tests.ipvs.fake_ipvs_kernel import FakeIpvsKernel
from tests.ipvs.ipvs_samples import sample_table

WEB = Service(ServiceKey.inet("tcp", "192.0.2.100", 80), "wrr")


def backend_for(fake: FakeIpvsKernel) -> NetlinkIpvs:
    return NetlinkIpvs(fake.reopen)


def add_ops(count: int) -> list[Op]:
    dests = [Destination(f"198.51.100.{i // 250}", 1000 + i % 250, weight=1 + i % 3)
             for i in range(count)]
    return [Op(OpKind.ADD_SERVICE, WEB)] + [Op(OpKind.ADD_DEST, WEB, d) for d in dests]


def test_backend_and_fake_satisfy_the_protocols():
    fake = FakeIpvsKernel()
    assert isinstance(backend_for(fake), IpvsBackend)
    assert isinstance(fake, NetlinkTransport)


def test_sample_table_round_trips_through_the_kernel_bytes():
    """Every field of the samples (IPv6, fwmark, persistence, pe, tunnels, flags) goes out
    as request bytes and comes back as dump bytes, decoded by the production decoder."""
    fake = FakeIpvsKernel()
    backend = backend_for(fake)
    ops = []
    for svc in sample_table():
        bare = svc.without_destinations()
        ops += [Op(OpKind.ADD_SERVICE, bare)] + [Op(OpKind.ADD_DEST, bare, d)
                                                 for d in svc.destinations]
    assert backend.apply(ops) == [None] * len(ops)
    assert backend.dump() == IpvsTable(tuple(sample_table()))
    assert fake.table() == backend.dump()


def test_one_request_per_op_waits_for_each_ack():
    fake = FakeIpvsKernel()
    ops = add_ops(10)
    assert backend_for(fake).apply(ops, window=1) == [None] * len(ops)
    assert fake.writes == len(ops)


def test_batched_path_writes_a_window_of_messages_at_once():
    fake = FakeIpvsKernel()
    ops = add_ops(300)
    assert backend_for(fake).apply(ops, window=BATCH_WINDOW) == [None] * len(ops)
    assert fake.writes == -(-len(ops) // BATCH_WINDOW)
    assert len(fake.table().get(WEB.key).destinations) == 300


@pytest.mark.parametrize("window", [1, BATCH_WINDOW])
def test_each_error_belongs_to_its_own_op(window):
    fake = FakeIpvsKernel()
    ops = add_ops(5)
    ops.insert(3, ops[2])  # the same ADD_DEST twice: EEXIST for the second only
    results = backend_for(fake).apply(ops, window=window)
    assert [type(r) for r in results] == [type(None)] * 3 + [IpvsExists] + [type(None)] * 3
    assert str(results[3]) == f"{ops[3]}: already exists"


def test_get_requests_ask_for_no_ack_and_leave_nothing_unread():
    """Regression: pyroute2 0.9 read GET_CONFIG's / GET_INFO's reply and left the ACK in its
    unread queue for good. The fake counts replies still queued at the next request."""
    fake = FakeIpvsKernel()
    backend = backend_for(fake)
    for _ in range(20):
        assert backend.get_timeouts() == Timeouts(900, 120, 300)
        assert backend.get_info().version == "1.2.1"
        backend.get_sync_daemons()
        backend.dump()
    assert fake.unread_at_send == 0


def test_receives_use_the_64k_buffer():
    """Dump datagrams are at most 32 KiB; 64 KiB stays below glibc's fixed mmap threshold
    (resources.py). The fake refuses a datagram larger than the buffer asked for."""
    sizes = []
    fake = FakeIpvsKernel(IpvsTable(tuple(sample_table())))

    class Recording:
        def send(self, data):
            return fake.send(data)

        def recv(self, bufsize):
            sizes.append(bufsize)
            return fake.recv(bufsize)

        def close(self):
            fake.close()

    NetlinkIpvs(Recording).dump()
    assert p.RECV_SIZE == 1 << 16 and set(sizes) == {p.RECV_SIZE}


def test_side_ops_and_their_errors():
    fake = FakeIpvsKernel()
    backend = backend_for(fake)
    backend.apply_side(SetTimeouts(Timeouts(100, 0, 30)))
    assert fake.timeouts == Timeouts(100, 120, 30)
    master = SyncDaemonConfig(SyncState.MASTER, "eth1", 5)
    backend.apply_side(StartSyncDaemon(master))
    # The kernel reports its defaults for what the start left unset (ip_vs_sync.c).
    assert backend.get_sync_daemons() == [SyncDaemonConfig(
        SyncState.MASTER, "eth1", 5, 1472, "224.0.0.81", 8848, 1)]
    with pytest.raises(IpvsError, match="start sync daemon master on eth1: already exists"):
        backend.apply_side(StartSyncDaemon(master))
    backend.apply_side(StopSyncDaemon(SyncState.MASTER))
    with pytest.raises(IpvsError, match="stop sync daemon master: no such object"):
        backend.apply_side(StopSyncDaemon(SyncState.MASTER))


def test_raw_forwarding_method_and_tunnel_fields_survive():
    """Regression: pyroute2's IPVSDest.from_message always said fwd_method=3 (DR)."""
    fake = FakeIpvsKernel()
    svc = Service(ServiceKey.mark(7), "lc")
    dest = Destination("198.51.100.41", 0, ForwardMethod.TUN, 3, tun_type=TunnelType.GUE,
                       tun_port=6080, tun_flags=1)
    backend = backend_for(fake)
    backend.apply([Op(OpKind.ADD_SERVICE, svc), Op(OpKind.ADD_DEST, svc, dest)])
    (got,) = backend.dump().get(svc.key).destinations
    assert got == dest and got.fwd == ForwardMethod.TUN


def test_no_ipvs_family_is_unavailable_and_sends_no_ipvs_command():
    fake = FakeIpvsKernel(has_ipvs=False)
    backend = backend_for(fake)
    assert backend.available() is False
    with pytest.raises(IpvsUnavailable):
        backend.dump()
    assert fake.commands == [] and fake.family_lookups == 2
    fake.has_ipvs = True
    assert backend.dump() == IpvsTable()


def test_a_socket_error_drops_the_transport_and_the_next_request_reopens_it():
    fake = FakeIpvsKernel()
    opened = []

    def factory():
        opened.append(1)
        return fake.reopen()

    backend = NetlinkIpvs(factory)
    backend.dump()
    real_recv = fake.recv

    def failing(bufsize):
        fake.recv = real_recv
        raise OSError(errno.ENOBUFS, "No buffer space available")

    fake.recv = failing
    with pytest.raises(IpvsError, match=r"dump services: .*No buffer space"):
        backend.dump()
    assert fake.closed
    assert backend.dump() == IpvsTable() and opened == [1, 1]


def test_close_closes_the_one_socket():
    fake = FakeIpvsKernel()
    backend = backend_for(fake)
    backend.flush()
    backend.close()
    assert fake.closed
