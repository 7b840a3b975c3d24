"""Runs a Reconciler for many_services(COUNT, PER_SERVICE) in the current namespace, one op
per request (slow on purpose, so a test can kill it mid-way); prints "converged" once."""

import sys

import structlog
import trio
from guest_configs import many_services

from haipvs.ipvs.desired import desired_table
from haipvs.ipvs.reconcile import Reconciler


async def main(count: int, per_service: int) -> None:
    # stdout is the protocol with the test; logs go to stderr.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    rec = Reconciler(batch_threshold=10**9)
    rec.set_desired(desired_table(many_services(count, per_service)))
    await rec.reconcile()
    print("converged" if rec.state == "ok" else f"failed: {rec.error}", flush=True)
    await trio.sleep_forever()


if __name__ == "__main__":
    trio.run(main, int(sys.argv[1]), int(sys.argv[2]))
