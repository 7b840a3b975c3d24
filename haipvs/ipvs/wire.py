"""Fast path for bulk changes: IPVS op messages packed with `struct`, sent many per write.

pyroute2 spends ~170 µs encoding one IPVS message, which makes programming thousands of
destinations several times slower than `ipvsadm -R`. This module packs the same bytes
directly (a unit test checks they equal `kernel.IpvsMessage`'s encoding) and exchanges them
over a plain netlink socket: the kernel processes every message of a write in order and
acks each one, so errors are still attributed to the op that caused them.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Sequence

from pyroute2 import netns as pr_netns
from pyroute2.netlink.exceptions import NetlinkError

from haipvs.ipvs import kernel
from haipvs.ipvs.kernel import Op, OpKind
from haipvs.ipvs.model import Destination, Service, ServiceKey

NETLINK_GENERIC = 16
NLMSG_ERROR = 2
NLMSG_DONE = 3
_NLMSGHDR = struct.Struct("=IHHII")
_GENLHDR = struct.Struct("=BBH")
_NLA_HDR = struct.Struct("=HH")
# IPVS_SVC_ATTR_* / IPVS_DEST_ATTR_* / IPVS_CMD_ATTR_* numbers.
_SVC_AF, _SVC_PROTOCOL, _SVC_ADDR, _SVC_PORT, _SVC_FWMARK = 1, 2, 3, 4, 5
_SVC_SCHED, _SVC_FLAGS, _SVC_TIMEOUT, _SVC_NETMASK, _SVC_PE = 6, 7, 8, 9, 11
_D_ADDR, _D_PORT, _D_FWD, _D_WEIGHT, _D_UTH, _D_LTH = 1, 2, 3, 4, 5, 6
_D_FAMILY, _D_TUN_TYPE, _D_TUN_PORT, _D_TUN_FLAGS = 11, 13, 14, 15
_CMD_SERVICE, _CMD_DEST = 1, 2

_OP_CMD = kernel.OP_COMMANDS


def _nla(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return _NLA_HDR.pack(length, kind) + payload + b"\0" * (-length & 3)


def _u16(kind: int, value: int) -> bytes:
    return _nla(kind, struct.pack("=H", value))


def _be16(kind: int, value: int) -> bytes:
    return _nla(kind, struct.pack("!H", value))


def _u32(kind: int, value: int) -> bytes:
    return _nla(kind, struct.pack("=I", value))


def _service_key(key: ServiceKey) -> bytes:
    out = _u16(_SVC_AF, key.family)
    if key.is_fwmark:
        return out + _u32(_SVC_FWMARK, key.fwmark)
    return (out + _u16(_SVC_PROTOCOL, key.protocol)
            + _nla(_SVC_ADDR, socket.inet_pton(key.family, key.address))
            + _be16(_SVC_PORT, key.port))


def _service_full(svc: Service) -> bytes:
    assert svc.netmask is not None
    out = (_service_key(svc.key)
           + _nla(_SVC_SCHED, svc.scheduler.encode() + b"\0")
           + _nla(_SVC_FLAGS, struct.pack("=II", svc.kernel_flags, 0xFFFFFFFF))
           + _u32(_SVC_TIMEOUT, svc.persistence_timeout or 0)
           + _nla(_SVC_NETMASK, kernel.netmask_bytes(svc.netmask, svc.key.family)))
    if svc.pe_name:
        out += _nla(_SVC_PE, svc.pe_name.encode() + b"\0")
    return out


def _dest(dest: Destination, full: bool) -> bytes:
    family = dest.family
    addr = _nla(_D_ADDR, socket.inet_pton(family, dest.address)) + _be16(_D_PORT, dest.port)
    if not full:
        return addr + _u16(_D_FAMILY, family)
    return (addr + _u32(_D_FWD, int(dest.fwd)) + _u32(_D_WEIGHT, dest.weight)
            + _u32(_D_UTH, dest.u_threshold) + _u32(_D_LTH, dest.l_threshold)
            + _u16(_D_FAMILY, family)
            + _nla(_D_TUN_TYPE, struct.pack("=B", int(dest.tun_type)))
            + _be16(_D_TUN_PORT, dest.tun_port) + _u16(_D_TUN_FLAGS, dest.tun_flags))


def encode_op(op: Op, family_id: int, seq: int, pid: int = 0) -> bytes:
    """The complete netlink message for one op, byte-identical to kernel.op_message()."""
    cmd, flags = _OP_CMD[op.kind]
    if op.kind in (OpKind.ADD_SERVICE, OpKind.SET_SERVICE):
        body = _nla(_CMD_SERVICE, _service_full(op.service))
    else:
        body = _nla(_CMD_SERVICE, _service_key(op.service.key))
    if op.dest is not None:
        body += _nla(_CMD_DEST, _dest(op.dest, full=op.kind != OpKind.DEL_DEST))
    length = _NLMSGHDR.size + _GENLHDR.size + len(body)
    return (_NLMSGHDR.pack(length, family_id, flags, seq, pid)
            + _GENLHDR.pack(cmd, kernel.GENL_VERSION, 0) + body)


def open_socket(netns: str | None = None) -> socket.socket:
    """A plain generic netlink socket (in `netns` if given), for `exchange`."""
    if netns is None:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    else:
        sock = pr_netns.create_socket(netns=netns, family=socket.AF_NETLINK,
                                      socket_type=socket.SOCK_RAW, proto=NETLINK_GENERIC)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((0, 0))
    return sock


def exchange(sock: socket.socket, family_id: int, ops: Sequence[Op],
             window: int = 128) -> list[int]:
    """Apply `ops` in order, `window` messages per write; return each op's errno (0 = ok).

    The window bounds the acks in flight so they never overflow the receive buffer."""
    results = [0] * len(ops)
    seq_base = 1
    for start in range(0, len(ops), window):
        chunk = ops[start:start + window]
        data = b"".join(encode_op(op, family_id, seq_base + i) for i, op in enumerate(chunk))
        sock.send(data)
        pending = len(chunk)
        while pending:
            buf = sock.recv(1 << 16)
            offset = 0
            while offset + _NLMSGHDR.size <= len(buf):
                length, mtype, _flags, seq, _pid = _NLMSGHDR.unpack_from(buf, offset)
                if length < _NLMSGHDR.size:
                    break
                if mtype == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", buf, offset + 16)[0]
                    index = seq - seq_base
                    if 0 <= index < len(chunk):
                        results[start + index] = code
                        pending -= 1
                offset += (length + 3) & ~3
        seq_base += len(chunk)
        if seq_base > 0x7FFF0000:
            seq_base = 1
    return results


def apply_ops(ipvs_sock: kernel.IpvsSocket, ops: Sequence[Op]) -> list[Exception | None]:
    """Owner-thread job: apply ops over the fast path, mapping each errno like kernel.apply."""
    raw = ipvs_sock.raw_socket()
    codes = exchange(raw, ipvs_sock.prid, ops)
    return [
        None if code == 0 else kernel.map_error(NetlinkError(code, os.strerror(code)), op)
        for op, code in zip(ops, codes, strict=True)
    ]


__all__ = ["apply_ops", "encode_op", "exchange", "lookup_family", "open_socket"]


# ---------------------------------------------------------------------------
# Fast dump: pyroute2's lazy NLA decoding costs milliseconds per destination, so a no-op
# reconcile of 11,000 objects took seconds. These parse the same replies with `struct`
# (a unit test checks they agree with kernel.decode_service / decode_dest).

NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
_SVC_TIMEOUT_ATTR, _SVC_NETMASK_ATTR = 8, 9
_D_ACTIVE, _D_INACT, _D_PERSIST = 7, 8, 9


def parse_attrs(buf: bytes, offset: int, end: int) -> dict[int, bytes]:
    attrs = {}
    while offset + 4 <= end:
        length, kind = _NLA_HDR.unpack_from(buf, offset)
        if length < 4:
            break
        attrs[kind & 0x3FFF] = buf[offset + 4:offset + length]
        offset += (length + 3) & ~3
    return attrs


def _u(raw: bytes | None, fmt: str = "=I", default: int = 0) -> int:
    return struct.unpack(fmt, raw[:struct.calcsize(fmt)])[0] if raw else default


def service_from_attrs(a: dict[int, bytes]) -> Service:
    family = _u(a[_SVC_AF], "=H")
    fwmark = _u(a.get(_SVC_FWMARK))
    if fwmark:
        key = ServiceKey(family=family, fwmark=fwmark)
    else:
        size = 16 if family == socket.AF_INET6 else 4
        key = ServiceKey(family=family, protocol=_u(a[_SVC_PROTOCOL], "=H"),
                         address=socket.inet_ntop(family, a[_SVC_ADDR][:size]),
                         port=_u(a[_SVC_PORT], "!H"))
    flags = _u(a[_SVC_FLAGS])
    persistent = bool(flags & kernel.SVC_F_PERSISTENT)
    pe = a.get(_SVC_PE, b"").split(b"\0", 1)[0].decode()
    return Service(
        key=key,
        scheduler=a[_SVC_SCHED].split(b"\0", 1)[0].decode(),
        flags=flags & kernel.SVC_MODEL_FLAGS,
        persistence_timeout=_u(a.get(_SVC_TIMEOUT_ATTR)) if persistent else None,
        netmask=kernel._decode_netmask(a[_SVC_NETMASK_ATTR], family),
        pe_name=pe or None,
    )


def dest_from_attrs(a: dict[int, bytes], service_family: int) -> Destination:
    family = _u(a.get(_D_FAMILY), "=H", service_family)
    size = 16 if family == socket.AF_INET6 else 4
    return Destination(
        address=socket.inet_ntop(family, a[_D_ADDR][:size]),
        port=_u(a[_D_PORT], "!H"),
        fwd=_u(a[_D_FWD]) & 0x7,
        weight=_u(a[_D_WEIGHT]),
        u_threshold=_u(a.get(_D_UTH)),
        l_threshold=_u(a.get(_D_LTH)),
        tun_type=_u(a.get(_D_TUN_TYPE), "=B"),
        tun_port=_u(a.get(_D_TUN_PORT), "!H"),
        tun_flags=_u(a.get(_D_TUN_FLAGS), "=H"),
        active_conns=_u(a.get(_D_ACTIVE)),
        inactive_conns=_u(a.get(_D_INACT)),
        persist_conns=_u(a.get(_D_PERSIST)),
    )


def iter_messages(buf: bytes):
    """(type, cmd-level attrs or errno) for each netlink message in a receive buffer."""
    offset = 0
    while offset + _NLMSGHDR.size <= len(buf):
        length, mtype, _flags, seq, _pid = _NLMSGHDR.unpack_from(buf, offset)
        if length < _NLMSGHDR.size:
            break
        if mtype == NLMSG_ERROR:
            yield mtype, seq, -struct.unpack_from("=i", buf, offset + 16)[0]
        elif mtype == NLMSG_DONE:
            yield mtype, seq, None
        else:
            start = offset + _NLMSGHDR.size + _GENLHDR.size
            yield mtype, seq, parse_attrs(buf, start, offset + length)
        offset += (length + 3) & ~3


def dump(sock: socket.socket, family_id: int, cmd: int, body: bytes, seq: int) -> list:
    """One dump request; the cmd-level attribute dicts of every reply."""
    length = _NLMSGHDR.size + _GENLHDR.size + len(body)
    sock.send(_NLMSGHDR.pack(length, family_id, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
              + _GENLHDR.pack(cmd, kernel.GENL_VERSION, 0) + body)
    replies = []
    while True:
        # Dump datagrams are at most 32 KiB (the kernel caps them); 64 KiB also stays below
        # glibc's mmap threshold, which the daemon fixes at 128 KiB (resources.py).
        buf = sock.recv(1 << 16)
        for mtype, msg_seq, payload in iter_messages(buf):
            if msg_seq != seq:
                continue
            if mtype == NLMSG_DONE:
                return replies
            if mtype == NLMSG_ERROR:
                if payload:
                    raise NetlinkError(payload, os.strerror(payload))
                return replies
            replies.append(payload)


def dump_table(ipvs_sock: kernel.IpvsSocket) -> kernel.IpvsTable:
    """Owner-thread job: the whole table via raw dumps (same result as kernel.dump_table's
    pyroute2 decoding, much faster)."""
    raw, family_id = ipvs_sock.raw_socket(), ipvs_sock.prid
    try:
        services = [service_from_attrs(parse_attrs(a[_CMD_SERVICE], 0, len(a[_CMD_SERVICE])))
                    for a in dump(raw, family_id, kernel.CMD_GET_SERVICE, b"", 1)
                    if _CMD_SERVICE in a]
    except NetlinkError as exc:
        raise kernel.map_error(exc, what="dump services") from exc
    out = []
    for seq, svc in enumerate(services, start=2):
        body = _nla(_CMD_SERVICE, _service_key(svc.key))
        try:
            replies = dump(raw, family_id, kernel.CMD_GET_DEST, body, seq)
        except NetlinkError as exc:
            if exc.code in (2, 3):  # ENOENT/ESRCH: deleted between the two dumps
                continue
            raise kernel.map_error(exc, what=f"dump destinations of {svc.key}") from exc
        dests = tuple(dest_from_attrs(parse_attrs(a[_CMD_DEST], 0, len(a[_CMD_DEST])),
                                      svc.key.family)
                      for a in replies if _CMD_DEST in a)
        out.append(Service(svc.key, svc.scheduler, svc.flags, svc.persistence_timeout,
                           svc.netmask, svc.pe_name, dests))
    return kernel.IpvsTable(tuple(out))


# ---------------------------------------------------------------------------
# Family lookup: one CTRL_CMD_GETFAMILY on an existing socket. The reconciler asks this
# before building pyroute2's IPVS object, which costs a thread and several sockets and
# objects per attempt: retried on every health change on a kernel without IPVS, that grew
# the daemon's memory. The kernel also loads ip_vs on demand for this request if it can.

GENL_ID_CTRL = 0x10
_CTRL_CMD_GETFAMILY = 3
_CTRL_ATTR_FAMILY_ID, _CTRL_ATTR_FAMILY_NAME = 1, 2
_CTRL_VERSION = 1


def lookup_family(sock: socket.socket, name: str, seq: int = 1) -> int | None:
    """The generic netlink family id of `name`, or None when the kernel has no such family.
    Other netlink errors raise NetlinkError."""
    body = _nla(_CTRL_ATTR_FAMILY_NAME, name.encode() + b"\0")
    length = _NLMSGHDR.size + _GENLHDR.size + len(body)
    sock.send(_NLMSGHDR.pack(length, GENL_ID_CTRL, NLM_F_REQUEST, seq, 0)
              + _GENLHDR.pack(_CTRL_CMD_GETFAMILY, _CTRL_VERSION, 0) + body)
    while True:
        buf = sock.recv(1 << 16)
        for mtype, msg_seq, payload in iter_messages(buf):
            if msg_seq != seq:
                continue  # a late reply to an earlier, interrupted request
            if mtype == NLMSG_ERROR:
                if payload == errno.ENOENT:
                    return None
                raise NetlinkError(payload, os.strerror(payload))
            if mtype == GENL_ID_CTRL:
                return _u(payload.get(_CTRL_ATTR_FAMILY_ID), "=H") or None
