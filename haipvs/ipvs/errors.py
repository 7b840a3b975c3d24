"""IPVS errors, mapped from kernel netlink errors to messages an operator can act on."""

from __future__ import annotations

from typing import Any

UNAVAILABLE_MESSAGE = "IPVS is not available in this kernel (ip_vs module not loaded?)"


class IpvsError(Exception):
    """A kernel IPVS request failed. `op` is the op that failed (if any), `code` the errno."""

    def __init__(self, message: str, *, op: Any = None, code: int | None = None) -> None:
        super().__init__(message)
        self.op = op
        self.code = code


class IpvsUnavailable(IpvsError):
    """The kernel has no IPVS generic netlink family."""

    def __init__(self, message: str = UNAVAILABLE_MESSAGE) -> None:
        super().__init__(message, code=2)


class IpvsExists(IpvsError):
    """EEXIST: somebody else created the object first (a race, reconciled by re-dumping)."""


class IpvsMissing(IpvsError):
    """ENOENT/ESRCH: the object vanished (a race, reconciled by re-dumping)."""


class UnknownScheduler(IpvsError):
    """The kernel lacks the scheduler (or persistence engine) module named in the config."""

    def __init__(self, scheduler: str, pe_name: str | None = None, *, op: Any = None) -> None:
        where = f" for {op.service.key}" if op is not None else ""
        if pe_name:
            message = (
                f"unknown IPVS scheduler {scheduler!r} or persistence engine {pe_name!r}"
                f"{where}: kernel module ip_vs_{scheduler} or ip_vs_pe_{pe_name} is missing"
            )
        else:
            message = (
                f"unknown IPVS scheduler {scheduler!r}{where}: kernel module"
                f" ip_vs_{scheduler} is missing"
            )
        super().__init__(message, op=op, code=2)
        self.scheduler = scheduler
