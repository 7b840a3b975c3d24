"""Run the haipvs daemon and SIGKILL it right after its N-th address add (or delete).

    integration/kill_at_address_op.py add|del N -- <haipvs arguments>

A test launcher (integration/test_crash_recovery.py), not part of haipvs: it wraps the
rtnetlink socket's address add/remove so the kill lands exactly between two address ops,
which a kill from outside cannot hit (the ops are microseconds apart).
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
    make_rtnl = daemon._make_rtnl

    def make_wrapped_rtnl():
        rt = make_rtnl()
        name = "add_address" if kind == "add" else "remove_address"
        real_op = getattr(rt, name)
        done = 0

        def op(*args, **kwargs):
            nonlocal done
            result = real_op(*args, **kwargs)
            done += 1
            if done == after:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        setattr(rt, name, op)
        return rt

    daemon._make_rtnl = make_wrapped_rtnl
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
