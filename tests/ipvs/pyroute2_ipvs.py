"""pyroute2's encoding of the IPVS uapi: an independent reference for haipvs.ipvs.codec.

These are the message classes and attribute builders production used before the struct
codec replaced them (pyroute2's own IPVS helpers were never used: wrong forwarding method,
"update" mapped to DEL). test_codec.py checks the codec's bytes against them and decodes
captured kernel replies with both. Test-only: production never imports pyroute2 for IPVS.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from pyroute2.netlink import genlmsg, nla

from haipvs.ipvs.model import (
    AF_INET6,
    SVC_F_PERSISTENT,
    SVC_MODEL_FLAGS,
    Destination,
    ForwardMethod,
    Service,
    ServiceKey,
    SyncDaemonConfig,
    TunnelType,
)
from haipvs.ipvs.ops import OP_COMMANDS, Op, OpKind
from haipvs.ipvs.protocol import GENL_VERSION


class _ipvsstats:
    class stats(nla):
        nla_map = (
            ("IPVS_STATS_ATTR_UNSPEC", "none"),
            ("IPVS_STATS_ATTR_CONNS", "uint32"),
            ("IPVS_STATS_ATTR_INPKTS", "uint32"),
            ("IPVS_STATS_ATTR_OUTPKTS", "uint32"),
            ("IPVS_STATS_ATTR_INBYTES", "uint64"),
            ("IPVS_STATS_ATTR_OUTBYTES", "uint64"),
            ("IPVS_STATS_ATTR_CPS", "uint32"),
            ("IPVS_STATS_ATTR_INPPS", "uint32"),
            ("IPVS_STATS_ATTR_OUTPPS", "uint32"),
            ("IPVS_STATS_ATTR_INBPS", "uint32"),
            ("IPVS_STATS_ATTR_OUTBPS", "uint32"),
        )

    class stats64(nla):
        nla_map = (
            ("IPVS_STATS_ATTR_UNSPEC", "none"),
            ("IPVS_STATS_ATTR_CONNS", "uint64"),
            ("IPVS_STATS_ATTR_INPKTS", "uint64"),
            ("IPVS_STATS_ATTR_OUTPKTS", "uint64"),
            ("IPVS_STATS_ATTR_INBYTES", "uint64"),
            ("IPVS_STATS_ATTR_OUTBYTES", "uint64"),
            ("IPVS_STATS_ATTR_CPS", "uint64"),
            ("IPVS_STATS_ATTR_INPPS", "uint64"),
            ("IPVS_STATS_ATTR_OUTPPS", "uint64"),
            ("IPVS_STATS_ATTR_INBPS", "uint64"),
            ("IPVS_STATS_ATTR_OUTBPS", "uint64"),
        )


class IpvsMessage(genlmsg):
    """IPVS generic netlink message (commands and their replies, except GET_INFO)."""

    prefix = "IPVS_CMD_ATTR_"
    nla_map = (
        ("IPVS_CMD_ATTR_UNSPEC", "none"),
        ("IPVS_CMD_ATTR_SERVICE", "service"),
        ("IPVS_CMD_ATTR_DEST", "dest"),
        ("IPVS_CMD_ATTR_DAEMON", "daemon"),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP", "uint32"),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", "uint32"),
        ("IPVS_CMD_ATTR_TIMEOUT_UDP", "uint32"),
    )

    class service(nla, _ipvsstats):
        prefix = "IPVS_SVC_ATTR_"
        nla_map = (
            ("IPVS_SVC_ATTR_UNSPEC", "none"),
            ("IPVS_SVC_ATTR_AF", "uint16"),
            ("IPVS_SVC_ATTR_PROTOCOL", "uint16"),
            # union nf_inet_addr: raw bytes, 4 (IPv4) or 16 (IPv6) significant
            ("IPVS_SVC_ATTR_ADDR", "cdata"),
            ("IPVS_SVC_ATTR_PORT", "be16"),
            ("IPVS_SVC_ATTR_FWMARK", "uint32"),
            ("IPVS_SVC_ATTR_SCHED_NAME", "asciiz"),
            ("IPVS_SVC_ATTR_FLAGS", "flags"),
            ("IPVS_SVC_ATTR_TIMEOUT", "uint32"),
            # IPv4: the mask's bytes; IPv6: the prefix length as a host-order u32
            ("IPVS_SVC_ATTR_NETMASK", "cdata"),
            ("IPVS_SVC_ATTR_STATS", "stats"),
            ("IPVS_SVC_ATTR_PE_NAME", "asciiz"),
            ("IPVS_SVC_ATTR_STATS64", "stats64"),
        )

        class flags(nla):
            fields = (("flags", "I"), ("mask", "I"))

    class dest(nla, _ipvsstats):
        prefix = "IPVS_DEST_ATTR_"
        nla_map = (
            ("IPVS_DEST_ATTR_UNSPEC", "none"),
            ("IPVS_DEST_ATTR_ADDR", "cdata"),
            ("IPVS_DEST_ATTR_PORT", "be16"),
            ("IPVS_DEST_ATTR_FWD_METHOD", "uint32"),
            ("IPVS_DEST_ATTR_WEIGHT", "uint32"),
            ("IPVS_DEST_ATTR_U_THRESH", "uint32"),
            ("IPVS_DEST_ATTR_L_THRESH", "uint32"),
            ("IPVS_DEST_ATTR_ACTIVE_CONNS", "uint32"),
            ("IPVS_DEST_ATTR_INACT_CONNS", "uint32"),
            ("IPVS_DEST_ATTR_PERSIST_CONNS", "uint32"),
            ("IPVS_DEST_ATTR_STATS", "stats"),
            ("IPVS_DEST_ATTR_ADDR_FAMILY", "uint16"),
            ("IPVS_DEST_ATTR_STATS64", "stats64"),
            ("IPVS_DEST_ATTR_TUN_TYPE", "uint8"),
            ("IPVS_DEST_ATTR_TUN_PORT", "be16"),
            ("IPVS_DEST_ATTR_TUN_FLAGS", "uint16"),
        )

    class daemon(nla):
        prefix = "IPVS_DAEMON_ATTR_"
        nla_map = (
            ("IPVS_DAEMON_ATTR_UNSPEC", "none"),
            ("IPVS_DAEMON_ATTR_STATE", "uint32"),
            ("IPVS_DAEMON_ATTR_MCAST_IFN", "asciiz"),
            ("IPVS_DAEMON_ATTR_SYNC_ID", "uint32"),
            ("IPVS_DAEMON_ATTR_SYNC_MAXLEN", "uint16"),
            ("IPVS_DAEMON_ATTR_MCAST_GROUP", "ip4addr"),
            ("IPVS_DAEMON_ATTR_MCAST_GROUP6", "ip6addr"),
            ("IPVS_DAEMON_ATTR_MCAST_PORT", "uint16"),
            ("IPVS_DAEMON_ATTR_MCAST_TTL", "uint8"),
        )


class IpvsInfoMessage(genlmsg):
    """The GET_INFO reply reuses attribute numbers 1 and 2 at the top level for the info
    attributes, so it needs its own class."""

    prefix = "IPVS_INFO_ATTR_"
    nla_map = (
        ("IPVS_INFO_ATTR_UNSPEC", "none"),
        ("IPVS_INFO_ATTR_VERSION", "uint32"),
        ("IPVS_INFO_ATTR_CONN_TAB_SIZE", "uint32"),
    )



def _addr_bytes(address: str, family: int) -> bytes:
    return socket.inet_pton(family, address)


def netmask_bytes(prefix: int, family: int) -> bytes:
    if family == AF_INET6:
        return struct.pack("=I", prefix)
    mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    return struct.pack("!I", mask)


def service_key_attrs(key: ServiceKey) -> list[tuple[str, Any]]:
    attrs: list[tuple[str, Any]] = [("IPVS_SVC_ATTR_AF", key.family)]
    if key.is_fwmark:
        attrs.append(("IPVS_SVC_ATTR_FWMARK", key.fwmark))
    else:
        attrs += [
            ("IPVS_SVC_ATTR_PROTOCOL", key.protocol),
            ("IPVS_SVC_ATTR_ADDR", _addr_bytes(key.address, key.family)),
            ("IPVS_SVC_ATTR_PORT", key.port),
        ]
    return attrs


def service_attrs(svc: Service) -> list[tuple[str, Any]]:
    """Full service description (NEW/SET need scheduler, flags, timeout and netmask)."""
    attrs = service_key_attrs(svc.key)
    attrs += [
        ("IPVS_SVC_ATTR_SCHED_NAME", svc.scheduler),
        # mask all bits: the kernel keeps HASHED itself
        ("IPVS_SVC_ATTR_FLAGS", {"flags": svc.kernel_flags, "mask": 0xFFFFFFFF}),
        ("IPVS_SVC_ATTR_TIMEOUT", svc.persistence_timeout or 0),
        ("IPVS_SVC_ATTR_NETMASK", netmask_bytes(svc.netmask, svc.key.family)),
    ]
    if svc.pe_name:
        attrs.append(("IPVS_SVC_ATTR_PE_NAME", svc.pe_name))
    return attrs


def dest_attrs(dest: Destination) -> list[tuple[str, Any]]:
    family = dest.family
    return [
        ("IPVS_DEST_ATTR_ADDR", _addr_bytes(dest.address, family)),
        ("IPVS_DEST_ATTR_PORT", dest.port),
        ("IPVS_DEST_ATTR_FWD_METHOD", int(dest.fwd)),
        ("IPVS_DEST_ATTR_WEIGHT", dest.weight),
        ("IPVS_DEST_ATTR_U_THRESH", dest.u_threshold),
        ("IPVS_DEST_ATTR_L_THRESH", dest.l_threshold),
        ("IPVS_DEST_ATTR_ADDR_FAMILY", family),
        ("IPVS_DEST_ATTR_TUN_TYPE", int(dest.tun_type)),
        ("IPVS_DEST_ATTR_TUN_PORT", dest.tun_port),
        ("IPVS_DEST_ATTR_TUN_FLAGS", dest.tun_flags),
    ]


def dest_key_attrs(dest: Destination) -> list[tuple[str, Any]]:
    family = dest.family
    return [
        ("IPVS_DEST_ATTR_ADDR", _addr_bytes(dest.address, family)),
        ("IPVS_DEST_ATTR_PORT", dest.port),
        ("IPVS_DEST_ATTR_ADDR_FAMILY", family),
    ]


def build_message(cmd: int, attrs: list[tuple[str, Any]]) -> IpvsMessage:
    msg = IpvsMessage()
    msg["cmd"] = cmd
    msg["version"] = GENL_VERSION
    msg["attrs"] = attrs
    return msg


def op_message(op: Op) -> tuple[IpvsMessage, int]:
    """The netlink message and request flags for one op."""
    cmd, flags = OP_COMMANDS[op.kind]
    if op.kind in (OpKind.ADD_SERVICE, OpKind.SET_SERVICE):
        attrs = [("IPVS_CMD_ATTR_SERVICE", {"attrs": service_attrs(op.service)})]
    else:
        attrs = [("IPVS_CMD_ATTR_SERVICE", {"attrs": service_key_attrs(op.service.key)})]
    if op.dest is not None:
        dattrs = dest_key_attrs(op.dest) if op.kind == OpKind.DEL_DEST else dest_attrs(op.dest)
        attrs.append(("IPVS_CMD_ATTR_DEST", {"attrs": dattrs}))
    return build_message(cmd, attrs), flags


# ---------------------------------------------------------------------------
# Decoding

def _attrs(msg_or_nla: Any) -> dict[str, Any]:
    return dict(msg_or_nla["attrs"])


def _decode_addr(raw: bytes, family: int) -> str:
    size = 16 if family == AF_INET6 else 4
    return socket.inet_ntop(family, bytes(raw[:size]))


def _decode_netmask(raw: bytes, family: int) -> int:
    if family == AF_INET6:
        return struct.unpack("=I", bytes(raw[:4]))[0]
    mask = struct.unpack("!I", bytes(raw[:4]))[0]
    # a non-contiguous mask (possible via ipvsadm) is reported by its leading ones
    prefix = 0
    while prefix < 32 and mask & (0x80000000 >> prefix):
        prefix += 1
    return prefix


def decode_service_key(svc_nla: Any) -> ServiceKey:
    a = _attrs(svc_nla)
    family = a["IPVS_SVC_ATTR_AF"]
    if a.get("IPVS_SVC_ATTR_FWMARK"):
        return ServiceKey(family=family, fwmark=a["IPVS_SVC_ATTR_FWMARK"])
    return ServiceKey(
        family=family,
        protocol=a["IPVS_SVC_ATTR_PROTOCOL"],
        address=_decode_addr(a["IPVS_SVC_ATTR_ADDR"], family),
        port=a["IPVS_SVC_ATTR_PORT"],
    )


def decode_service(svc_nla: Any) -> Service:
    a = _attrs(svc_nla)
    family = a["IPVS_SVC_ATTR_AF"]
    key = decode_service_key(svc_nla)
    flags = a["IPVS_SVC_ATTR_FLAGS"]["flags"]
    persistent = bool(flags & SVC_F_PERSISTENT)
    return Service(
        key=key,
        scheduler=a["IPVS_SVC_ATTR_SCHED_NAME"],
        flags=flags & SVC_MODEL_FLAGS,
        persistence_timeout=a.get("IPVS_SVC_ATTR_TIMEOUT", 0) if persistent else None,
        netmask=_decode_netmask(a["IPVS_SVC_ATTR_NETMASK"], family),
        pe_name=a.get("IPVS_SVC_ATTR_PE_NAME") or None,
    )


def decode_dest(dest_nla: Any, service_family: int) -> Destination:
    a = _attrs(dest_nla)
    family = a.get("IPVS_DEST_ATTR_ADDR_FAMILY", service_family)
    return Destination(
        address=_decode_addr(a["IPVS_DEST_ATTR_ADDR"], family),
        port=a["IPVS_DEST_ATTR_PORT"],
        # the raw attribute: the low 3 bits of the connection flags
        fwd=ForwardMethod(a["IPVS_DEST_ATTR_FWD_METHOD"] & 0x7),
        weight=a["IPVS_DEST_ATTR_WEIGHT"],
        u_threshold=a.get("IPVS_DEST_ATTR_U_THRESH", 0),
        l_threshold=a.get("IPVS_DEST_ATTR_L_THRESH", 0),
        tun_type=TunnelType(a.get("IPVS_DEST_ATTR_TUN_TYPE", 0)),
        tun_port=a.get("IPVS_DEST_ATTR_TUN_PORT", 0),
        tun_flags=a.get("IPVS_DEST_ATTR_TUN_FLAGS", 0),
        active_conns=a.get("IPVS_DEST_ATTR_ACTIVE_CONNS", 0),
        inactive_conns=a.get("IPVS_DEST_ATTR_INACT_CONNS", 0),
        persist_conns=a.get("IPVS_DEST_ATTR_PERSIST_CONNS", 0),
    )


def _daemon_attrs(cfg: SyncDaemonConfig) -> list[tuple[str, Any]]:
    attrs: list[tuple[str, Any]] = [
        ("IPVS_DAEMON_ATTR_STATE", int(cfg.state)),
        ("IPVS_DAEMON_ATTR_MCAST_IFN", cfg.interface),
        ("IPVS_DAEMON_ATTR_SYNC_ID", cfg.syncid),
    ]
    if cfg.maxlen is not None:
        attrs.append(("IPVS_DAEMON_ATTR_SYNC_MAXLEN", cfg.maxlen))
    if cfg.mcast_group is not None:
        name = "IPVS_DAEMON_ATTR_MCAST_GROUP6" if ":" in cfg.mcast_group else \
            "IPVS_DAEMON_ATTR_MCAST_GROUP"
        attrs.append((name, cfg.mcast_group))
    if cfg.mcast_port is not None:
        attrs.append(("IPVS_DAEMON_ATTR_MCAST_PORT", cfg.mcast_port))
    if cfg.mcast_ttl is not None:
        attrs.append(("IPVS_DAEMON_ATTR_MCAST_TTL", cfg.mcast_ttl))
    return attrs


