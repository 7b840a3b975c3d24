"""track_process end to end, haipvs vs keepalived 2.2.7 (issue 15; docs/benchmarks.md).

    sudo .venv/bin/python bench/track_process_vs_keepalived.py [--repeat 5]

One director in a fresh netns, MASTER of one instance whose weight-0 vrrp_track_process
follows a sleeper with a unique name. Measured: SIGKILL of the sleeper -> the VIP's
deletion seen by `ip monitor address` in the namespace (tracked process exit, FAULT, VIP
removal), then the sleeper is started again and the VIP comes back. keepalived runs from the
initial namespace with `net_namespace` (its proc connector works only there); haipvs runs
inside the namespace (`ip netns exec`) and opens its connector in its parent's namespace.
Every process is the bench's own and is stopped before it exits.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script: bench/ is on sys.path, the repo is not
    sys.path.insert(0, str(REPO_ROOT))

from integration.harness.topology import Lan  # noqa: E402
from integration.harness.wait import wait_until  # noqa: E402
from integration.test_ops_support import FAST, AddressMonitor, OpsNode  # noqa: E402

VIP = "198.51.100.90"


def keepalived_conf(netns: str, comm: str) -> str:
    return f"""net_namespace {netns}
global_defs {{
    router_id ka-bench
}}
vrrp_track_process app {{
    process {comm}
    weight 0
}}
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 90
    priority 100
    advert_int 0.2
    version 3
    virtual_ipaddress {{
        {VIP}/24
    }}
    track_process {{
        app
    }}
}}
"""


def trial_loop(node, binary: Path, repeat: int) -> list[float]:
    out: list[float] = []
    sleeper = subprocess.Popen([str(binary), "600"])
    monitor = AddressMonitor(node.netns.name)
    try:
        for _ in range(repeat):
            wait_until(lambda: node.has_address(f"{VIP}/24"), 15, what="the VIP")
            time.sleep(0.5)
            killed = time.time()
            sleeper.kill()
            sleeper.wait(5)
            gone = wait_until(lambda since=killed: [
                ts for ts, line in monitor.lines
                if ts >= since and "Deleted" in line and VIP in line], 10,
                what="the VIP's deletion")
            out.append((gone[0] - killed) * 1000)
            sleeper = subprocess.Popen([str(binary), "600"])
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait(5)
        monitor.close()
    return out


def run_keepalived(binary: Path, repeat: int, tmp: Path) -> list[float]:
    with Lan(prefix="bk") as lan:
        node = lan.add_node("k1")
        conf = tmp / "keepalived.conf"
        conf.write_text(keepalived_conf(node.netns.name, binary.name))
        with (tmp / "keepalived.log").open("wb") as log:
            daemon = subprocess.Popen(["/usr/sbin/keepalived", "-n", "-l", "-D", "-f", str(conf),
                                       "-p", str(tmp / "k.pid"), "-r", str(tmp / "v.pid")],
                                      stdout=log, stderr=subprocess.STDOUT)
        try:
            return trial_loop(node, binary, repeat)
        finally:
            daemon.terminate()
            daemon.wait(10)


def run_haipvs(binary: Path, repeat: int, tmp: Path) -> list[float]:
    with Lan(prefix="bh") as lan:
        node = lan.add_node("d1")
        daemon = OpsNode(node, tmp, [FAST.but(name="VI_1", vrid=90, vips=(f"{VIP}/24",))],
                         top={"vrrp_track_processes": [{"name": "app", "process": binary.name,
                                                        "weight": 0}]},
                         per_instance={"VI_1": {"track_process": ["app"]}})
        daemon.start()
        try:
            return trial_loop(node, binary, repeat)
        finally:
            daemon.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / "bnchtpka"
        shutil.copy(shutil.which("sleep") or "/bin/sleep", binary)
        (Path(tmp) / "k").mkdir()
        (Path(tmp) / "h").mkdir()
        ka = run_keepalived(binary, args.repeat, Path(tmp) / "k")
        hv = run_haipvs(binary, args.repeat, Path(tmp) / "h")
    print("| SIGKILL of the tracked process -> VIP deleted (ms) | median | min | max |")
    print("|---|---|---|---|")
    for name, xs in (("keepalived 2.2.7", ka), ("haipvs", hv)):
        print(f"| {name} | {statistics.median(xs):.2f} | {min(xs):.2f} | {max(xs):.2f} |")
    print(f"\nhaipvs/keepalived (medians): {statistics.median(hv) / statistics.median(ka):.2f}")


if __name__ == "__main__":
    main()
