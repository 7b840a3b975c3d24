"""The two interfaces between the reconciler and the kernel. Pure (typing only).

    Reconciler (trio)  --await NetlinkThread.call-->  IpvsBackend (owner thread)
    IpvsBackend        --bytes-->                     NetlinkTransport (kernel or fake)

There is one `IpvsBackend`, haipvs.ipvs.netlink.NetlinkIpvs, and it lives in the IPVS owner
thread: every method blocks and must only be called there. It speaks to a
`NetlinkTransport`: a NETLINK_GENERIC socket in production, the fake kernel
(tests/ipvs/fake_ipvs_kernel.py) in the tests, which parses the same request bytes and
answers with reply bytes. So tests and production run the same encoder and decoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from haipvs.ipvs.errors import IpvsError
from haipvs.ipvs.model import IpvsInfo, IpvsTable, SyncDaemonConfig, Timeouts
from haipvs.ipvs.ops import Op, SideOp


@runtime_checkable
class NetlinkTransport(Protocol):
    """What the backend needs of a netlink socket: datagrams in and out."""

    def send(self, data: bytes, /) -> int: ...

    def recv(self, bufsize: int, /) -> bytes: ...

    def close(self) -> None: ...


@runtime_checkable
class IpvsBackend(Protocol):
    """Kernel IPVS access. Methods raise IpvsUnavailable when the kernel has no IPVS family
    and IpvsError (mapped from the errno) when the kernel refuses a request."""

    def available(self) -> bool:
        """The family probe: whether the kernel has the IPVS family (asked on one kept
        socket, opened in the owner thread; the kernel loads ip_vs on demand if it can)."""
        ...

    def dump(self) -> IpvsTable: ...

    def apply(self, ops: Sequence[Op], window: int = 1) -> list[IpvsError | None]:
        """Apply `ops` in order, `window` requests in flight per write (1: one request per
        op, each waiting for its ACK); one result per op, so one bad op holds back none of
        the others."""
        ...

    def apply_side(self, op: SideOp) -> None: ...

    def get_timeouts(self) -> Timeouts: ...

    def get_sync_daemons(self) -> list[SyncDaemonConfig]: ...

    def get_info(self) -> IpvsInfo: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...
