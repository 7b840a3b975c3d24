"""The IPVS backend: kernel IPVS over one generic netlink socket, in the owner thread.

`NetlinkIpvs` is the one implementation of haipvs.ipvs.backend.IpvsBackend. It is built and
used inside the IPVS owner thread (haipvs/drivers/netlink_thread.py): sockets belong to one
thread, and it opens its socket lazily there, so the family probe too runs in that thread.
One socket serves the probe and every request: on a kernel without IPVS each retry asks
the controller on that kept socket and allocates nothing (soak RSS growth, docs/soak.md);
once IPVS is there the same socket carries the requests, so no second one is opened.

pyroute2's IPVS helpers and message classes are not used: they report the wrong
forwarding method (IPVSDest.from_message always says 3), map "update" to DEL, lack
timeouts, sync daemons, flush and info, left each GET's ACK unread in their queue, and cost
milliseconds per destination. The bytes come from haipvs/ipvs/codec.py.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable, Sequence

from haipvs.ipvs import codec
from haipvs.ipvs import protocol as p
from haipvs.ipvs.backend import NetlinkTransport
from haipvs.ipvs.errors import IpvsError, IpvsUnavailable
from haipvs.ipvs.model import (
    DestKey,
    IpvsInfo,
    IpvsTable,
    Service,
    SyncDaemonConfig,
    Timeouts,
)
from haipvs.ipvs.ops import Op, SideOp, describe_side_op, encode_op, encode_side_op, error_for
from haipvs.ipvs.stats import IpvsStats, ServiceStats, decode_stats

NETLINK_GENERIC = 16
# Requests in flight per write on the batched path; bounds the ACKs queued at once so they
# never overflow the receive buffer.
BATCH_WINDOW = 128
_SEQ_WRAP = 0x7FFF0000


def open_socket(netns: str | None = None) -> socket.socket:
    """A plain generic netlink socket (in network namespace `netns` if given)."""
    if netns is None:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    else:
        from pyroute2 import netns as pr_netns  # only for namespaces: setns in a helper

        sock = pr_netns.create_socket(netns=netns, family=socket.AF_NETLINK,
                                      socket_type=socket.SOCK_RAW, proto=NETLINK_GENERIC)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((0, 0))
    except OSError:
        sock.close()
        raise
    return sock


class _KernelError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _stats_of(attrs: codec.Attrs, *, dest: bool) -> IpvsStats:
    wide, narrow = ((p.DEST_ATTR_STATS64, p.DEST_ATTR_STATS) if dest
                    else (p.SVC_ATTR_STATS64, p.SVC_ATTR_STATS))
    return decode_stats(attrs.get(wide) or attrs.get(narrow))


def _error(code: int, op: Op | None = None, what: str | None = None) -> IpvsError:
    return error_for(code, op, what, strerror=os.strerror(code))


class NetlinkIpvs:
    """IpvsBackend over a NetlinkTransport. Owner thread only.

    `transport_factory` opens the transport (default: a NETLINK_GENERIC socket in `netns`);
    tests pass the fake kernel."""

    def __init__(self, transport_factory: Callable[[], NetlinkTransport] | None = None,
                 netns: str | None = None) -> None:
        self._factory = transport_factory or (lambda: open_socket(netns))
        self.transport: NetlinkTransport | None = None
        self.family_id: int | None = None
        self._seq = 0

    # -- transport -------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq = self._seq % _SEQ_WRAP + 1
        return self._seq

    def _open(self) -> NetlinkTransport:
        if self.transport is None:
            self.transport = self._factory()
        return self.transport

    def _drop(self) -> None:
        if self.transport is not None:
            transport, self.transport = self.transport, None
            transport.close()

    def close(self) -> None:
        self._drop()
        self.family_id = None

    # -- family probe ----------------------------------------------------------------

    def available(self) -> bool:
        if self.family_id is None:
            try:
                self.family_id = self.lookup_family(p.GENL_NAME)
            except (OSError, _KernelError) as exc:
                self._drop()
                detail = os.strerror(exc.code) if isinstance(exc, _KernelError) else exc
                raise IpvsError(f"cannot ask the kernel for the IPVS family: {detail}") from exc
        return self.family_id is not None

    def lookup_family(self, name: str) -> int | None:
        """CTRL_CMD_GETFAMILY: the family id, or None when the kernel has no such family."""
        transport = self._open()
        seq = self._next_seq()
        transport.send(codec.getfamily_message(name, seq))
        while True:
            for msg in codec.iter_messages(transport.recv(p.RECV_SIZE)):
                if msg.seq != seq:
                    continue  # a late reply to an earlier, interrupted request
                if msg.type == p.NLMSG_ERROR:
                    if msg.error == errno.ENOENT:
                        return None
                    raise _KernelError(msg.error or errno.EPROTO)
                if msg.type == p.GENL_ID_CTRL:
                    return codec.decode_family_id(msg.attrs)

    def _family(self) -> int:
        if not self.available():
            raise IpvsUnavailable()
        assert self.family_id is not None
        return self.family_id

    # -- requests --------------------------------------------------------------------

    def _request(self, cmd: int, body: bytes, flags: int, what: str) -> list[codec.Attrs]:
        """One request; the top-level attributes of its replies. A dump reads to DONE, a
        request with ACK to its ACK, a GET (no ACK asked) to its one reply."""
        family = self._family()
        transport = self._open()
        seq = self._next_seq()
        try:
            transport.send(codec.message(family, flags, seq, cmd, body))
            return self._replies(transport, seq, flags)
        except _KernelError as exc:
            raise _error(exc.code, what=what) from None
        except OSError as exc:
            self._drop()  # reopened for the next request; a half-read socket is not reused
            raise IpvsError(f"{what}: {exc}", code=exc.errno) from exc

    def _replies(self, transport: NetlinkTransport, seq: int, flags: int) -> list[codec.Attrs]:
        dump = flags & p.NLM_F_DUMP == p.NLM_F_DUMP
        acked = bool(flags & p.NLM_F_ACK)
        replies: list[codec.Attrs] = []
        while True:
            for msg in codec.iter_messages(transport.recv(p.RECV_SIZE)):
                if msg.seq != seq:
                    continue
                if msg.type == p.NLMSG_ERROR:
                    if msg.error:
                        raise _KernelError(msg.error)
                    return replies
                if msg.type == p.NLMSG_DONE:
                    return replies
                replies.append(msg.attrs)
                if not dump and not acked:
                    return replies

    def dump(self) -> IpvsTable:
        """The whole table: services, then each service's destinations."""
        out = []
        for svc_attrs, dest_attrs in self._dump_raw():
            svc = codec.decode_service(svc_attrs)
            dests = tuple(codec.decode_dest(a, svc.key.family) for a in dest_attrs)
            out.append(Service(svc.key, svc.scheduler, svc.flags, svc.persistence_timeout,
                               svc.netmask, svc.pe_name, dests,
                               tuple(d.key for d in dests)))
        return IpvsTable(tuple(out))

    def dump_stats(self) -> list[ServiceStats]:
        """Every service's and destination's counters and rates (ipvsadm --stats/--rate):
        the 64-bit set where the kernel sends it (haipvs/ipvs/stats.py)."""
        out = []
        for svc_attrs, dest_attrs in self._dump_raw():
            key = codec.decode_service_key(svc_attrs)
            dests = tuple(
                (DestKey(*codec.decode_dest_key(a, key.family)), _stats_of(a, dest=True))
                for a in dest_attrs)
            out.append(ServiceStats(key, _stats_of(svc_attrs, dest=False), dests))
        return out

    def _dump_raw(self) -> list[tuple[codec.Attrs, list[codec.Attrs]]]:
        """Each service's attributes and its destinations' (two dumps, as libipvs does)."""
        services = [codec.parse_attrs(a[p.CMD_ATTR_SERVICE])
                    for a in self._request(p.CMD_GET_SERVICE, b"", p.FLAGS_DUMP,
                                           "dump services")
                    if p.CMD_ATTR_SERVICE in a]
        out = []
        for svc_attrs in services:
            key = codec.decode_service_key(svc_attrs)
            body = codec.nla(p.CMD_ATTR_SERVICE, codec.service_key_attrs(key))
            try:
                replies = self._request(p.CMD_GET_DEST, body, p.FLAGS_DUMP,
                                        f"dump destinations of {key}")
            except IpvsError as exc:
                if exc.code in (errno.ENOENT, errno.ESRCH):
                    continue  # deleted between the two dumps
                raise
            out.append((svc_attrs, [codec.parse_attrs(a[p.CMD_ATTR_DEST])
                                    for a in replies if p.CMD_ATTR_DEST in a]))
        return out

    def apply(self, ops: Sequence[Op], window: int = 1) -> list[IpvsError | None]:
        """Ops in order, `window` messages per write: the kernel handles the messages of a
        write in order and ACKs each, so every error is still the op's own."""
        family = self._family()
        transport = self._open()
        results: list[IpvsError | None] = [None] * len(ops)
        try:
            for start in range(0, len(ops), window):
                chunk = ops[start:start + window]
                seqs = {self._next_seq(): start + i for i in range(len(chunk))}
                transport.send(b"".join(encode_op(op, family, seq)
                                        for seq, op in zip(seqs, chunk, strict=True)))
                while seqs:
                    for msg in codec.iter_messages(transport.recv(p.RECV_SIZE)):
                        index = seqs.pop(msg.seq, None) if msg.type == p.NLMSG_ERROR else None
                        if index is not None and msg.error:
                            results[index] = _error(msg.error, ops[index])
        except OSError as exc:
            self._drop()
            raise IpvsError(f"applying {len(ops)} IPVS ops: {exc}", code=exc.errno) from exc
        return results

    def apply_side(self, op: SideOp) -> None:
        family = self._family()
        transport = self._open()
        seq = self._next_seq()
        what = describe_side_op(op)
        try:
            transport.send(encode_side_op(op, family, seq))
            self._replies(transport, seq, p.FLAGS_REQUEST)
        except _KernelError as exc:
            raise _error(exc.code, what=what) from None
        except OSError as exc:
            self._drop()
            raise IpvsError(f"{what}: {exc}", code=exc.errno) from exc

    def get_timeouts(self) -> Timeouts:
        (reply,) = self._request(p.CMD_GET_CONFIG, b"", p.FLAGS_GET, "get timeouts")
        return codec.decode_timeouts(reply)

    def get_sync_daemons(self) -> list[SyncDaemonConfig]:
        replies = self._request(p.CMD_GET_DAEMON, b"", p.FLAGS_DUMP, "get sync daemons")
        daemons = [codec.decode_daemon(codec.parse_attrs(a[p.CMD_ATTR_DAEMON]))
                   for a in replies if p.CMD_ATTR_DAEMON in a]
        return sorted(daemons, key=lambda d: d.state)

    def get_info(self) -> IpvsInfo:
        (reply,) = self._request(p.CMD_GET_INFO, b"", p.FLAGS_GET, "get info")
        return codec.decode_info(reply)

    def flush(self) -> None:
        """Remove every service. Never used by the reconciler (foreign services survive);
        for tests and explicit operator commands."""
        self._request(p.CMD_FLUSH, b"", p.FLAGS_REQUEST, "flush")
