"""Benchmark: the VIP path's rtnetlink calls, in a loop, in the current network namespace.

Each cycle is what a mastership flap costs the rtnl owner thread: sync_add, sync_link_state,
sync_remove, sync_link_state for one VIP. Prints RSS, the bytes left unread on the socket and the
elapsed time every fifth of the run. Run it in a throwaway namespace with a veth `v0`:

    ip netns add vb && ip -n vb link add v0 type veth peer name v1 && ip -n vb link set v0 up
    ip -n vb link set v1 up && ip -n vb addr add 192.0.2.1/24 dev v0
    ip netns exec vb .venv/bin/python bench/vip_path.py 5000
    ip netns exec vb env MALLOC_MMAP_THRESHOLD_=131072 .venv/bin/python bench/vip_path.py 5000
    ip netns del vb

(The second line is the daemon's fixed mmap threshold, haipvs/resources.py.)
"""

from __future__ import annotations

import ipaddress
import sys
import time

from haipvs.daemon import _make_rtnl
from haipvs.drivers import addresses
from haipvs.drivers.netlink_thread import NetlinkThread


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


def unread(rt) -> int:
    return rt.pending()


def main(cycles: int) -> None:
    vip = addresses.Vip(ipaddress.ip_interface("192.0.2.100/24"), "v0")
    with NetlinkThread(_make_rtnl, name="rtnl") as rtnl:
        started = time.monotonic()
        for i in range(cycles + 1):
            rtnl.call_blocking(addresses.sync_add, [vip])
            rtnl.call_blocking(addresses.sync_link_state, "v0")
            rtnl.call_blocking(addresses.sync_remove, [vip])
            rtnl.call_blocking(addresses.sync_link_state, "v0")
            if i % max(1, cycles // 5) == 0:
                print(f"cycle {i}: rss {rss_kib()} KiB, unread {rtnl.call_blocking(unread)}, "
                      f"{time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
