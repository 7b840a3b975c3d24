"""Typed IPVS operations, their netlink messages, and the errors the kernel answers them with.

Pure: an op is data (what `plan` returns and the backend applies); `encode_op` is its one
netlink message and `error_for` turns the kernel's errno for it into an error an operator
can act on. Nothing here does I/O.
"""

from __future__ import annotations

import errno
from enum import StrEnum

from haipvs.dataclass_lean import dataclass
from haipvs.ipvs import codec
from haipvs.ipvs import protocol as p
from haipvs.ipvs.errors import IpvsError, IpvsExists, IpvsMissing, UnknownScheduler
from haipvs.ipvs.model import Destination, Service, SyncDaemonConfig, SyncState, Timeouts


class OpKind(StrEnum):
    ADD_SERVICE = "add_service"
    SET_SERVICE = "set_service"
    DEL_SERVICE = "del_service"
    ADD_DEST = "add_dest"
    SET_DEST = "set_dest"
    DEL_DEST = "del_dest"


@dataclass(frozen=True)
class Op:
    """One table change. Service ops carry the service (without destinations); dest ops
    carry the service and the destination."""

    kind: OpKind
    service: Service
    dest: Destination | None = None

    def __str__(self) -> str:
        if self.dest is None:
            return f"{self.kind} {self.service.key}"
        return f"{self.kind} {self.service.key} -> {self.dest.key}"


@dataclass(frozen=True)
class SetTimeouts:
    """IPVS_CMD_SET_CONFIG. Zero fields are left unchanged by the kernel."""

    timeouts: Timeouts


@dataclass(frozen=True)
class StartSyncDaemon:
    config: SyncDaemonConfig


@dataclass(frozen=True)
class StopSyncDaemon:
    state: SyncState


SideOp = SetTimeouts | StartSyncDaemon | StopSyncDaemon

OP_COMMANDS = {
    OpKind.ADD_SERVICE: (p.CMD_NEW_SERVICE, p.FLAGS_CREATE),
    OpKind.SET_SERVICE: (p.CMD_SET_SERVICE, p.FLAGS_REQUEST),
    OpKind.DEL_SERVICE: (p.CMD_DEL_SERVICE, p.FLAGS_REQUEST),
    OpKind.ADD_DEST: (p.CMD_NEW_DEST, p.FLAGS_CREATE),
    OpKind.SET_DEST: (p.CMD_SET_DEST, p.FLAGS_REQUEST),
    OpKind.DEL_DEST: (p.CMD_DEL_DEST, p.FLAGS_REQUEST),
}


def encode_op(op: Op, family_id: int, seq: int, pid: int = 0) -> bytes:
    """The complete netlink message for one op. NEW/SET_SERVICE carry the full service;
    the others its key. DEL_DEST carries the destination's key only."""
    cmd, flags = OP_COMMANDS[op.kind]
    if op.kind in (OpKind.ADD_SERVICE, OpKind.SET_SERVICE):
        body = codec.nla(p.CMD_ATTR_SERVICE, codec.service_attrs(op.service))
    else:
        body = codec.nla(p.CMD_ATTR_SERVICE, codec.service_key_attrs(op.service.key))
    if op.dest is not None:
        body += codec.nla(p.CMD_ATTR_DEST,
                          codec.dest_attrs(op.dest, full=op.kind != OpKind.DEL_DEST))
    return codec.message(family_id, flags, seq, cmd, body, pid)


def encode_side_op(op: SideOp, family_id: int, seq: int) -> bytes:
    if isinstance(op, SetTimeouts):
        return codec.message(family_id, p.FLAGS_REQUEST, seq, p.CMD_SET_CONFIG,
                             codec.timeouts_attrs(op.timeouts))
    if isinstance(op, StartSyncDaemon):
        body = codec.nla(p.CMD_ATTR_DAEMON, codec.daemon_attrs(op.config))
        return codec.message(family_id, p.FLAGS_REQUEST, seq, p.CMD_NEW_DAEMON, body)
    body = codec.nla(p.CMD_ATTR_DAEMON, codec.daemon_state_attrs(op.state))
    return codec.message(family_id, p.FLAGS_REQUEST, seq, p.CMD_DEL_DAEMON, body)


def describe_side_op(op: SideOp) -> str:
    if isinstance(op, SetTimeouts):
        return "set timeouts"
    if isinstance(op, StartSyncDaemon):
        return f"start sync daemon {op.config.state.name.lower()} on {op.config.interface}"
    return f"stop sync daemon {op.state.name.lower()}"


def error_for(code: int, op: Op | None = None, what: str | None = None, *,
              strerror: str = "", reason: str | None = None) -> IpvsError:
    """The error for the kernel's errno `code` answering `op` (or the request `what`).
    `strerror` is the C library's text for `code` (the caller has it; this module does no
    I/O), `reason` a more precise one when the kernel gave it."""
    subject = str(op) if op is not None else (what or "IPVS request")
    if (
        op is not None
        and op.kind in (OpKind.ADD_SERVICE, OpKind.SET_SERVICE)
        and code == errno.ENOENT
    ):
        # NEW/SET_SERVICE return ENOENT only when the scheduler (or the persistence
        # engine) module cannot be found; a missing service is ESRCH.
        return UnknownScheduler(op.service.scheduler, op.service.pe_name, op=op)
    if code == errno.EEXIST:
        return IpvsExists(f"{subject}: already exists", op=op, code=code)
    if code in (errno.ENOENT, errno.ESRCH):
        return IpvsMissing(f"{subject}: no such object in the kernel table", op=op, code=code)
    reason = reason or strerror or errno.errorcode.get(code, "")
    return IpvsError(f"{subject}: kernel refused ({reason or 'error'} [{code}]"
                     f" {strerror})", op=op, code=code)
