"""BIRD 2 in a test netns (issue 17): the router (passive eBGP to N directors, `merge paths
yes`, BFD) and the directors (conf/bird-haipvs.conf itself, only its define lines replaced),
each with its own control socket and run in the foreground so the PID we hold is BIRD's own;
and the router's FIB as the thing measured: the VIP's nexthops, watched by polling
`ip -j route show` (no BIRD log or birdc state is trusted for timing: the kernel route is
what forwards the client's packets).
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from integration.harness import cleanup
from integration.harness.netns import Netns, run
from integration.harness.proc import Proc

REPO = Path(__file__).resolve().parents[2]
DIRECTOR_CONF = REPO / "conf" / "bird-haipvs.conf"
ROUTER_AS, DIRECTOR_AS = 65000, 65001
BFD_INTERVAL_MS, BFD_MULTIPLIER = 100, 3


def bird_unavailable_reason() -> str | None:
    for name in ("bird", "birdc"):
        if shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
            return f"{name} not installed (Debian package bird2, deps/apt.txt)"
    return None


def _binary(name: str) -> str:
    found = shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        raise FileNotFoundError(name)
    return found


def director_conf(local_ip: str, router_ip: str, table: int = 201) -> str:
    """conf/bird-haipvs.conf for one director: the documented file, defines filled in, the
    log sent to stderr (the test's log file) instead of syslog."""
    text = DIRECTOR_CONF.read_text()
    values = {"HAIPVS_TABLE": str(table), "LOCAL_IP": local_ip, "ROUTER1_IP": router_ip,
              "LOCAL_AS": str(DIRECTOR_AS), "ROUTER_AS": str(ROUTER_AS)}
    for name, value in values.items():
        text, count = re.subn(rf"^define {name} = [^;]+;", f"define {name} = {value};", text,
                              flags=re.M)
        if count != 1:
            raise ValueError(f"{DIRECTOR_CONF}: no single 'define {name}' line")
    text, count = re.subn(r"^router id [^;]+;", f"router id {local_ip};", text, flags=re.M)
    if count != 1:
        raise ValueError(f"{DIRECTOR_CONF}: no single 'router id' line")
    return text.replace("log syslog all;", "log stderr all;")


def router_conf(router_id: str, directors: Iterable[str], uplink: str) -> str:
    """The router: a passive eBGP + BFD session per director address, the equal paths merged
    into one multipath route in the main table (the kernel spreads flows by L4 hash)."""
    sessions = "\n".join(
        f"protocol bgp d{i} from directors {{ neighbor {address} as {DIRECTOR_AS}; }}"
        for i, address in enumerate(directors, 1))
    return f"""router id {router_id};
log stderr all;
protocol device {{ scan time 10; }}
protocol kernel {{
    merge paths yes;
    ipv4 {{ import none; export all; }};
}}
protocol bfd {{
    interface "{uplink}" {{
        min rx interval {BFD_INTERVAL_MS} ms; min tx interval {BFD_INTERVAL_MS} ms;
        multiplier {BFD_MULTIPLIER};
    }};
}}
template bgp directors {{
    local {router_id} as {ROUTER_AS};
    passive on;
    bfd on;
    hold time 9;
    keepalive time 3;
    # RFC 8326: a path carrying GRACEFUL_SHUTDOWN (65535:0) gets LOCAL_PREF 0, so it is no
    # longer merged with the directors' other paths and leaves the ECMP route before the
    # director withdraws it (haipvs scale_out.graceful_shutdown)
    ipv4 {{
        import filter {{
            if (65535, 0) ~ bgp_community then bgp_local_pref = 0;
            accept;
        }};
        export none;
    }};
}}
{sessions}
"""


class Bird:
    """One BIRD in `netns`: config, socket and log under `workdir`; stopped by its PID."""

    def __init__(self, netns: Netns, workdir: Path, name: str, conf: str) -> None:
        self.netns = netns
        self.name = name
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf_path = workdir / f"bird-{name}.conf"
        self.socket = workdir / f"bird-{name}.ctl"
        self.log_path = workdir / f"bird-{name}.log"
        self.conf_path.write_text(conf)
        check = run([_binary("bird"), "-p", "-c", str(self.conf_path)], check=False)
        if check.returncode != 0:
            raise ValueError(f"{self.conf_path}: {(check.stderr or check.stdout).strip()}")
        self.proc: Proc | None = None

    def start(self) -> Bird:
        # -f: foreground, so the Proc's PID is BIRD's; -s: a socket of its own per instance
        self.proc = Proc(self.netns, [_binary("bird"), "-f", "-c", str(self.conf_path),
                                      "-s", str(self.socket)], self.log_path,
                         name=f"bird-{self.name}")
        return self

    def birdc(self, *command: str) -> str:
        proc = run(self.netns.argv(_binary("birdc"), "-s", str(self.socket), *command),
                   check=False, timeout=5)
        return proc.stdout

    def established(self, protocol: str) -> bool:
        return "Established" in self.birdc("show", "protocols", protocol)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(timeout=3)


def fib_nexthops(netns: Netns, prefix: str) -> tuple[str, ...]:
    """The gateways of `prefix`'s route in the main table, sorted; () when there is none."""
    out = run(["ip", "-n", netns.name, "-j", "route", "show", "exact", prefix],
              check=False).stdout
    gateways: list[str] = []
    for route in json.loads(out or "[]"):
        if route.get("gateway"):
            gateways.append(route["gateway"])
        gateways.extend(hop["gateway"] for hop in route.get("nexthops", []) if "gateway" in hop)
    return tuple(sorted(gateways))


@dataclass(frozen=True)
class FibChange:
    at: float  # time.time() at the end of the first query that saw the new set (upper bound)
    nexthops: tuple[str, ...]


class FibWatcher:
    """Polls the router's route to `prefix` back to back (each `ip` run takes ~2-4 ms on this
    host: that is the resolution) and records every change of its nexthops with a time."""

    def __init__(self, netns: Netns, prefix: str) -> None:
        self.netns, self.prefix = netns, prefix
        self.changes: list[FibChange] = [FibChange(time.time(), fib_nexthops(netns, prefix))]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="fib-watch")
        self._thread.start()
        self._token = cleanup.register(self.stop)

    def _loop(self) -> None:
        # bounded: ends when stop() is called (test teardown / cleanup at exit)
        while not self._stop.is_set():
            hops = fib_nexthops(self.netns, self.prefix)
            now = time.time()
            with self._lock:
                if hops != self.changes[-1].nexthops:
                    self.changes.append(FibChange(now, hops))
            self._stop.wait(0.001)

    @property
    def current(self) -> tuple[str, ...]:
        with self._lock:
            return self.changes[-1].nexthops

    def since(self, t0: float) -> list[FibChange]:
        with self._lock:
            return [change for change in self.changes if change.at >= t0]

    def wait_for(self, predicate, timeout: float, t0: float) -> FibChange:
        """The first change at or after `t0` whose nexthops satisfy `predicate`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for change in self.since(t0):
                if predicate(change.nexthops):
                    return change
            time.sleep(0.005)
        raise TimeoutError(f"router FIB for {self.prefix}: no such change in {timeout} s; "
                           f"changes since t0: {self.since(t0)}")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        cleanup.forget(self._token)
