"""An in-memory stand-in for the kernel's IPVS generic netlink family, at the byte level.

It is a NetlinkTransport (haipvs/ipvs/backend.py): the production backend (NetlinkIpvs)
sends it the same request bytes it sends the kernel and decodes its reply bytes with the
same codec, so the tests run the production encoder and decoder end to end. It parses the
requests with haipvs.ipvs.codec too, answers CTRL_CMD_GETFAMILY (with no IPVS family while
`has_ipvs` is false), sends an ACK only when asked for one (NLM_F_ACK), splits dumps over
several datagrams, and returns the kernel's errno for the same mistakes: EEXIST, ESRCH (no
service), ENOENT (no dest, or an unknown scheduler on NEW/SET_SERVICE).
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from haipvs.ipvs import codec
from haipvs.ipvs import protocol as p
from haipvs.ipvs.model import (
    Destination,
    IpvsInfo,
    IpvsTable,
    Service,
    ServiceKey,
    SyncDaemonConfig,
    SyncState,
    Timeouts,
)
from haipvs.ipvs.planner import kernel_sync_maxlen

KNOWN_SCHEDULERS = {"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh",
                    "fo", "ovf", "twos"}
FAMILY_ID = 0x20
DUMP_MESSAGES_PER_DATAGRAM = 2  # small, so the backend's multi-datagram reads are exercised


class KernelError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class FakeIpvsKernel:
    def __init__(self, table: IpvsTable | None = None, *, has_ipvs: bool = True) -> None:
        self.has_ipvs = has_ipvs
        self.services: dict[ServiceKey, Service] = {}
        self.dests: dict[ServiceKey, dict[tuple[str, int], Destination]] = {}
        self.timeouts = Timeouts(900, 120, 300)
        self.daemons: dict[SyncState, SyncDaemonConfig] = {}
        self.info = IpvsInfo("1.2.1", 4096)
        self.commands: list[int] = []  # every IPVS command received, in order
        self.writes = 0  # send() calls carrying IPVS commands
        self.family_lookups = 0
        # Replies still queued when a new request came: what pyroute2 0.9 leaked.
        self.unread_at_send = 0
        # Called with the decoded request before it is handled (to simulate races).
        self.before: Callable[[FakeIpvsKernel, int, codec.Message], None] | None = None
        self.closed = False
        self._queue: deque[bytes] = deque()
        for svc in table or ():
            self.load(svc)

    def load(self, svc: Service) -> None:
        self.services[svc.key] = svc.without_destinations()
        self.dests[svc.key] = {(d.address, d.port): d for d in svc.destinations}

    def table(self) -> IpvsTable:
        return IpvsTable(tuple(
            Service(s.key, s.scheduler, s.flags, s.persistence_timeout, s.netmask, s.pe_name,
                    tuple(self.dests[key].values()))
            for key, s in self.services.items()
        ))

    # -- NetlinkTransport ----------------------------------------------------------

    def send(self, data: bytes, /) -> int:
        assert not self.closed, "send on a closed transport"
        if self._queue:
            self.unread_at_send += 1
        ipvs = False
        for msg in codec.iter_messages(data):
            if msg.type == p.GENL_ID_CTRL:
                self._getfamily(msg)
            else:
                ipvs = True
                self._ipvs(msg)
        self.writes += ipvs
        return len(data)

    def recv(self, bufsize: int, /) -> bytes:
        assert not self.closed, "recv on a closed transport"
        # A real socket would block for good here: a backend bug, so fail loudly.
        assert self._queue, "recv with nothing to receive (would block forever)"
        datagram = self._queue.popleft()
        assert len(datagram) <= bufsize, "datagram larger than the receive buffer"
        return datagram

    def close(self) -> None:
        self.closed = True

    def reopen(self) -> FakeIpvsKernel:
        """A transport factory's answer: the same kernel, a fresh socket."""
        self.closed = False
        self._queue.clear()
        return self

    # -- dispatch ------------------------------------------------------------------

    def _getfamily(self, msg: codec.Message) -> None:
        self.family_lookups += 1
        name = msg.attrs[p.CTRL_ATTR_FAMILY_NAME].split(b"\0", 1)[0].decode()
        ids = {"nlctrl": p.GENL_ID_CTRL, **({p.GENL_NAME: FAMILY_ID} if self.has_ipvs else {})}
        if name in ids:
            self._queue.append(codec.family_reply(name, ids[name], msg.seq))
        else:
            self._queue.append(codec.error_message(msg.seq, errno.ENOENT))

    def _ipvs(self, msg: codec.Message) -> None:
        if not self.has_ipvs or msg.type != FAMILY_ID:
            self._queue.append(codec.error_message(msg.seq, errno.ENOENT))
            return
        self.commands.append(msg.cmd)
        try:
            if self.before is not None:
                self.before(self, msg.cmd, msg)
            handler = getattr(self, f"_cmd_{msg.cmd}", None)
            if handler is None:
                raise KernelError(errno.EOPNOTSUPP)
            replies = handler(msg)
        except KernelError as exc:
            self._queue.append(codec.error_message(msg.seq, exc.code))
            return
        dump = msg.flags & p.NLM_F_DUMP == p.NLM_F_DUMP
        if dump:
            replies = [codec.message(FAMILY_ID, 0x2, msg.seq, cmd, body) for cmd, body in replies]
            replies.append(codec.done_message(msg.seq))
            step = DUMP_MESSAGES_PER_DATAGRAM
            self._queue.extend(b"".join(replies[i:i + step]) for i in range(0, len(replies), step))
            return
        for cmd, body in replies:
            self._queue.append(codec.message(FAMILY_ID, 0, msg.seq, cmd, body))
        if msg.flags & p.NLM_F_ACK:
            self._queue.append(codec.error_message(msg.seq, 0))

    # -- commands ------------------------------------------------------------------

    @staticmethod
    def _svc_attrs(msg: codec.Message) -> codec.Attrs:
        return codec.parse_attrs(msg.attrs[p.CMD_ATTR_SERVICE])

    def _existing(self, msg: codec.Message) -> ServiceKey:
        key = codec.decode_service_key(self._svc_attrs(msg))
        if key not in self.services:
            raise KernelError(errno.ESRCH)
        return key

    def _new_or_set_service(self, msg: codec.Message, new: bool) -> list:
        svc = codec.decode_service(self._svc_attrs(msg))
        if new and svc.key in self.services:
            raise KernelError(errno.EEXIST)
        if not new and svc.key not in self.services:
            raise KernelError(errno.ESRCH)
        if svc.scheduler not in KNOWN_SCHEDULERS:
            raise KernelError(errno.ENOENT)
        self.services[svc.key] = svc
        self.dests.setdefault(svc.key, {})
        return []

    def _cmd_1(self, msg: codec.Message) -> list:  # NEW_SERVICE
        return self._new_or_set_service(msg, new=True)

    def _cmd_2(self, msg: codec.Message) -> list:  # SET_SERVICE
        return self._new_or_set_service(msg, new=False)

    def _cmd_3(self, msg: codec.Message) -> list:  # DEL_SERVICE
        key = self._existing(msg)
        del self.services[key]
        del self.dests[key]
        return []

    def _cmd_4(self, msg: codec.Message) -> list:  # GET_SERVICE (dump)
        return [(p.CMD_NEW_SERVICE, codec.nla(p.CMD_ATTR_SERVICE, codec.service_attrs(s)))
                for s in self.services.values()]

    def _dest_op(self, msg: codec.Message, cmd: int) -> list:
        key = self._existing(msg)
        attrs = codec.parse_attrs(msg.attrs[p.CMD_ATTR_DEST])
        dkey = codec.decode_dest_key(attrs, key.family)
        table = self.dests[key]
        if cmd == p.CMD_NEW_DEST and dkey in table:
            raise KernelError(errno.EEXIST)
        if cmd != p.CMD_NEW_DEST and dkey not in table:
            raise KernelError(errno.ENOENT)
        if cmd == p.CMD_DEL_DEST:
            del table[dkey]
        elif cmd == p.CMD_NEW_DEST:  # at the head, as ip_vs_ctl.c __ip_vs_update_dest
            self.dests[key] = {dkey: codec.decode_dest(attrs, key.family), **table}
        else:
            table[dkey] = codec.decode_dest(attrs, key.family)
        return []

    def _cmd_5(self, msg: codec.Message) -> list:
        return self._dest_op(msg, p.CMD_NEW_DEST)

    def _cmd_6(self, msg: codec.Message) -> list:
        return self._dest_op(msg, p.CMD_SET_DEST)

    def _cmd_7(self, msg: codec.Message) -> list:
        return self._dest_op(msg, p.CMD_DEL_DEST)

    def _cmd_8(self, msg: codec.Message) -> list:  # GET_DEST (dump)
        key = self._existing(msg)
        return [(p.CMD_NEW_DEST, codec.nla(p.CMD_ATTR_DEST, codec.dest_reply_attrs(d)))
                for d in self.dests[key].values()]

    def _cmd_9(self, msg: codec.Message) -> list:  # NEW_DAEMON
        cfg = codec.decode_daemon(codec.parse_attrs(msg.attrs[p.CMD_ATTR_DAEMON]))
        if cfg.state in self.daemons:
            raise KernelError(errno.EEXIST)
        self.daemons[cfg.state] = replace(cfg, maxlen=kernel_sync_maxlen(cfg))
        return []

    def _cmd_10(self, msg: codec.Message) -> list:  # DEL_DAEMON
        attrs = codec.parse_attrs(msg.attrs[p.CMD_ATTR_DAEMON])
        state = SyncState(int.from_bytes(attrs[p.DAEMON_ATTR_STATE][:4], "little"))
        if self.daemons.pop(state, None) is None:
            raise KernelError(errno.ESRCH)
        return []

    def _cmd_11(self, msg: codec.Message) -> list:  # GET_DAEMON (dump)
        # ip_vs_sync.c start_sync_thread() gave unset options the kernel's defaults (maxlen
        # from a 1500 MTU less the IPv4 and UDP headers); GET_DAEMON reports those.
        return [(p.CMD_NEW_DAEMON, codec.nla(p.CMD_ATTR_DAEMON, codec.daemon_attrs(
            SyncDaemonConfig(d.state, d.interface, d.syncid, maxlen=d.maxlen or 1500 - 28,
                             mcast_group=d.mcast_group or "224.0.0.81",
                             mcast_port=d.mcast_port or 8848, mcast_ttl=d.mcast_ttl or 1))))
                for d in self.daemons.values()]

    def _cmd_12(self, msg: codec.Message) -> list:  # SET_CONFIG: zero leaves a value alone
        want, t = codec.decode_timeouts(msg.attrs), self.timeouts
        self.timeouts = Timeouts(want.tcp or t.tcp, want.tcpfin or t.tcpfin, want.udp or t.udp)
        return []

    def _cmd_13(self, msg: codec.Message) -> list:  # GET_CONFIG
        return [(p.CMD_SET_CONFIG, codec.timeouts_attrs(self.timeouts))]

    def _cmd_15(self, msg: codec.Message) -> list:  # GET_INFO
        return [(p.CMD_SET_INFO, codec.info_attrs(self.info))]

    def _cmd_17(self, msg: codec.Message) -> list:  # FLUSH
        self.services.clear()
        self.dests.clear()
        return []
