"""An in-memory stand-in for the kernel's IPVS generic netlink family.

It takes the same `IpvsMessage` requests the real socket does (encoded to bytes and decoded
again, so the codec is exercised), answers with encoded-and-decoded replies, and returns the
kernel's errno for the same mistakes: EEXIST, ESRCH (no service), ENOENT (no dest, or an
unknown scheduler on NEW/SET_SERVICE).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from haipvs.ipvs import kernel as k
from haipvs.ipvs.model import (
    Destination,
    IpvsTable,
    Service,
    ServiceKey,
    SyncDaemonConfig,
    SyncState,
    Timeouts,
)

KNOWN_SCHEDULERS = {"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh",
                    "fo", "ovf", "twos"}


def _roundtrip(msg: k.IpvsMessage, cls: type = k.IpvsMessage) -> Any:
    msg["header"]["type"] = 0x20
    msg["header"]["flags"] = 0
    msg.encode()
    out = cls(msg.data)
    out.decode()
    return out


class FakeIpvsSocket:
    prid = 0x20

    def __init__(self, table: IpvsTable | None = None) -> None:
        self.services: dict[ServiceKey, Service] = {}
        self.dests: dict[ServiceKey, dict[tuple[str, int], Destination]] = {}
        self.timeouts = Timeouts(900, 120, 300)
        self.daemons: dict[SyncState, SyncDaemonConfig] = {}
        self.commands: list[int] = []  # every command received, in order
        # Called with the decoded request before it is handled (to simulate races).
        self.before: Callable[[FakeIpvsSocket, int, Any], None] | None = None
        self.closed = False
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

    def close(self) -> None:
        self.closed = True

    # -- the request entry point used by haipvs.ipvs.kernel ------------------------

    def request(self, msg: k.IpvsMessage, flags: int = k.FLAGS_REQUEST) -> list:
        req = _roundtrip(msg)
        cmd = req["cmd"]
        self.commands.append(cmd)
        if self.before is not None:
            self.before(self, cmd, req)
        handler = getattr(self, f"_cmd_{cmd}", None)
        if handler is None:
            raise NetlinkError(errno.EOPNOTSUPP)
        return handler(req)

    def _svc_key(self, req: Any) -> ServiceKey:
        return k.decode_service_key(req.get_attr("IPVS_CMD_ATTR_SERVICE"))

    def _existing(self, req: Any) -> ServiceKey:
        key = self._svc_key(req)
        if key not in self.services:
            raise NetlinkError(errno.ESRCH)
        return key

    def _dest_key(self, req: Any, family: int) -> tuple[str, int]:
        a = dict(req.get_attr("IPVS_CMD_ATTR_DEST")["attrs"])
        fam = a.get("IPVS_DEST_ATTR_ADDR_FAMILY", family)
        return (k._decode_addr(a["IPVS_DEST_ATTR_ADDR"], fam), a["IPVS_DEST_ATTR_PORT"])

    def _new_or_set_service(self, req: Any, new: bool) -> list:
        key = self._svc_key(req)
        if new and key in self.services:
            raise NetlinkError(errno.EEXIST)
        if not new and key not in self.services:
            raise NetlinkError(errno.ESRCH)
        svc = k.decode_service(req.get_attr("IPVS_CMD_ATTR_SERVICE"))
        if svc.scheduler not in KNOWN_SCHEDULERS:
            raise NetlinkError(errno.ENOENT)
        self.services[key] = svc
        self.dests.setdefault(key, {})
        return []

    def _cmd_1(self, req: Any) -> list:  # NEW_SERVICE
        return self._new_or_set_service(req, new=True)

    def _cmd_2(self, req: Any) -> list:  # SET_SERVICE
        return self._new_or_set_service(req, new=False)

    def _cmd_3(self, req: Any) -> list:  # DEL_SERVICE
        key = self._existing(req)
        del self.services[key]
        del self.dests[key]
        return []

    def _cmd_4(self, req: Any) -> list:  # GET_SERVICE (dump)
        return [
            _roundtrip(k.build_message(
                k.CMD_NEW_SERVICE, [("IPVS_CMD_ATTR_SERVICE", {"attrs": k.service_attrs(s)})]
            ))
            for s in self.services.values()
        ]

    def _dest_op(self, req: Any, cmd: int) -> list:
        key = self._existing(req)
        dkey = self._dest_key(req, key.family)
        table = self.dests[key]
        if cmd == k.CMD_NEW_DEST and dkey in table:
            raise NetlinkError(errno.EEXIST)
        if cmd != k.CMD_NEW_DEST and dkey not in table:
            raise NetlinkError(errno.ENOENT)
        if cmd == k.CMD_DEL_DEST:
            del table[dkey]
        else:
            table[dkey] = k.decode_dest(req.get_attr("IPVS_CMD_ATTR_DEST"), key.family)
        return []

    def _cmd_5(self, req: Any) -> list:
        return self._dest_op(req, k.CMD_NEW_DEST)

    def _cmd_6(self, req: Any) -> list:
        return self._dest_op(req, k.CMD_SET_DEST)

    def _cmd_7(self, req: Any) -> list:
        return self._dest_op(req, k.CMD_DEL_DEST)

    def _cmd_8(self, req: Any) -> list:  # GET_DEST (dump)
        key = self._existing(req)
        return [
            _roundtrip(k.build_message(
                k.CMD_NEW_DEST, [("IPVS_CMD_ATTR_DEST", {"attrs": k.dest_attrs(d)})]
            ))
            for d in self.dests[key].values()
        ]

    def _cmd_9(self, req: Any) -> list:  # NEW_DAEMON
        a = dict(req.get_attr("IPVS_CMD_ATTR_DAEMON")["attrs"])
        state = SyncState(a["IPVS_DAEMON_ATTR_STATE"])
        if state in self.daemons:
            raise NetlinkError(errno.EEXIST)
        self.daemons[state] = SyncDaemonConfig(state, a["IPVS_DAEMON_ATTR_MCAST_IFN"],
                                               a.get("IPVS_DAEMON_ATTR_SYNC_ID", 0))
        return []

    def _cmd_10(self, req: Any) -> list:  # DEL_DAEMON
        a = dict(req.get_attr("IPVS_CMD_ATTR_DAEMON")["attrs"])
        if self.daemons.pop(SyncState(a["IPVS_DAEMON_ATTR_STATE"]), None) is None:
            raise NetlinkError(errno.ESRCH)
        return []

    def _cmd_11(self, req: Any) -> list:  # GET_DAEMON
        return [
            _roundtrip(k.build_message(k.CMD_NEW_DAEMON, [(
                "IPVS_CMD_ATTR_DAEMON", {"attrs": k._daemon_attrs(d)}
            )]))
            for d in self.daemons.values()
        ]

    def _cmd_12(self, req: Any) -> list:  # SET_CONFIG
        t = self.timeouts
        self.timeouts = Timeouts(
            req.get_attr("IPVS_CMD_ATTR_TIMEOUT_TCP") or t.tcp,
            req.get_attr("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN") or t.tcpfin,
            req.get_attr("IPVS_CMD_ATTR_TIMEOUT_UDP") or t.udp,
        )
        return []

    def _cmd_13(self, req: Any) -> list:  # GET_CONFIG
        t = self.timeouts
        return [_roundtrip(k.build_message(k.CMD_SET_CONFIG, [
            ("IPVS_CMD_ATTR_TIMEOUT_TCP", t.tcp),
            ("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", t.tcpfin),
            ("IPVS_CMD_ATTR_TIMEOUT_UDP", t.udp),
        ]))]

    def _cmd_17(self, req: Any) -> list:  # FLUSH
        self.services.clear()
        self.dests.clear()
        return []
