"""A reconciler that SIGKILLs itself after its N-th kernel op (the test's kill point).

    crash_point_program.py LEDGER [--setup] [--kill-after N]

--setup first converges the kernel to OLD_TABLE (no kill). Then the desired table becomes
NEW_TABLE, which needs every kind of op from OLD_TABLE: SET_SERVICE, ADD/SET/DEL_DEST,
ADD_SERVICE, DEL_SERVICE. With --kill-after N the process kills itself with SIGKILL right
after the N-th op of that pass succeeds (N=0: before the first). Without it, it prints
"converged <ops>" and exits. LEDGER is the ownership ledger (haipvs/ipvs/ownership.py).
"""

import argparse
import os
import signal
import sys

import structlog
import trio

from haipvs.ipvs.model import Destination, IpvsTable, Service, ServiceKey
from haipvs.ipvs.netlink import NetlinkIpvs
from haipvs.ipvs.ownership import OwnershipLedger
from haipvs.ipvs.reconcile import Reconciler

WEB = ServiceKey.inet("tcp", "192.0.2.100", 80)
DNS = ServiceKey.inet("udp", "192.0.2.100", 53)
OLD = ServiceKey.inet("tcp", "192.0.2.101", 80)
NEW = ServiceKey.inet("tcp", "192.0.2.102", 443)

OLD_TABLE = IpvsTable((
    Service(WEB, "wrr", destinations=(Destination("198.51.100.10", 8080, weight=1),
                                      Destination("198.51.100.11", 8080, weight=2))),
    Service(DNS, "rr", destinations=(Destination("198.51.100.20", 53),
                                     Destination("198.51.100.21", 53))),
    Service(OLD, "rr", destinations=(Destination("198.51.100.30", 80),)),
))
NEW_TABLE = IpvsTable((
    Service(WEB, "wrr", destinations=(Destination("198.51.100.10", 8080, weight=5),
                                      Destination("198.51.100.12", 8080, weight=2))),
    Service(DNS, "wlc", destinations=(Destination("198.51.100.20", 53),
                                      Destination("198.51.100.21", 53))),
    Service(NEW, "rr", destinations=(Destination("198.51.100.40", 443),
                                     Destination("198.51.100.41", 443))),
))


def kill_after(count: int) -> None:
    """Make the backend's apply (the per-op path the reconciler uses here) die after
    `count` ops."""
    real_apply = NetlinkIpvs.apply
    done = 0

    def apply(self, ops, window=1):
        nonlocal done
        results = []
        for op in ops:
            if done >= count:  # count 0: before the first op
                os.kill(os.getpid(), signal.SIGKILL)
            results += real_apply(self, [op], window)
            done += 1
            if done == count:
                os.kill(os.getpid(), signal.SIGKILL)
        return results

    NetlinkIpvs.apply = apply


async def main(args: argparse.Namespace) -> None:
    # stdout is the protocol with the test; logs go to stderr.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    rec = Reconciler(batch_threshold=10**9, ownership=OwnershipLedger(args.ledger))
    try:
        if args.setup:
            rec.set_desired(OLD_TABLE)
            await rec.reconcile()
            assert rec.state == "ok", rec.error
        if args.kill_after is not None:
            kill_after(args.kill_after)
        rec.set_desired(NEW_TABLE)
        plan = await rec.reconcile()
        print(f"converged {len(plan.ops)}" if rec.state == "ok" else f"failed: {rec.error}",
              flush=True)
    finally:
        rec.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("ledger")
    parser.add_argument("--setup", action="store_true")
    parser.add_argument("--kill-after", type=int)
    trio.run(main, parser.parse_args())
