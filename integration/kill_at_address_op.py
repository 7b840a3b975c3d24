"""Run the haipvs daemon and SIGKILL it right after its N-th address add (or delete).

    integration/kill_at_address_op.py add|del N -- <haipvs arguments>

A test launcher (integration/test_crash_recovery.py), not part of haipvs: it wraps the
rtnetlink socket's `addr` call so the kill lands exactly between two address ops, which a
kill from outside cannot hit (the ops are microseconds apart).
"""

import os
import signal
import sys

from haipvs import cli, daemon


def main() -> int:
    kind, count, separator, *haipvs_args = sys.argv[1:]
    if kind not in ("add", "del") or separator != "--":
        raise SystemExit(__doc__)
    after = int(count)
    make_iproute = daemon._make_iproute

    def make_wrapped_iproute():
        ipr = make_iproute()
        real_addr = ipr.addr
        done = 0

        def addr(command, *args, **kwargs):
            nonlocal done
            result = real_addr(command, *args, **kwargs)
            if command == kind:
                done += 1
                if done == after:
                    os.kill(os.getpid(), signal.SIGKILL)
            return result

        ipr.addr = addr
        return ipr

    daemon._make_iproute = make_wrapped_iproute
    return cli.main(haipvs_args)


if __name__ == "__main__":
    sys.exit(main())
