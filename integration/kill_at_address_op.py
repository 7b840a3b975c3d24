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
    if kind == "add":  # a MASTER's VIP adds go on the VRRP thread's own socket (vip_fastpath)
        from haipvs.drivers import vip_fastpath

        real_add_one = vip_fastpath.FastVipAdder._add_one
        fast_done = 0

        def add_one(self, sock, body):
            nonlocal fast_done
            added = real_add_one(self, sock, body)
            if added:
                fast_done += 1
                if fast_done == after:
                    os.kill(os.getpid(), signal.SIGKILL)
            return added

        vip_fastpath.FastVipAdder._add_one = add_one
    return cli.main(haipvs_args)


if __name__ == "__main__":
    sys.exit(main())
