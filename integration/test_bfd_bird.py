"""BFD session state from a real BIRD 2 (issue 17, haipvs.drivers.bird_bfd): two BIRDs in two
namespaces run a BFD session (100 ms x 3, RFC 5880 detection time 300 ms) and haipvs's
control-socket client polls one of them. keepalived 2.2.7 runs BFD itself (keepalived/bfd/);
haipvs reads the routing daemon's session instead, so the peer here is BIRD, not keepalived.

Measured: from the fault (an nftables drop of the peer's BFD control packets, UDP 3784, or
stopping the peer's BIRD) to the client's SessionChanged(down), and back. Bound: detection
(300 ms) + poll interval (100 ms) + slack for a loaded 2-core machine.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
import trio

from haipvs.drivers.bird_bfd import BirdBfdClient
from haipvs.policy.bfd_sessions import SessionChanged, SessionSpec
from integration.harness.bird import Bird, bird_unavailable_reason
from integration.harness.netns import Netns
from integration.test_ops_support import FAST, ops_node_fixture  # noqa: F401 - fixture

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(bird_unavailable_reason() is not None,
                       reason=str(bird_unavailable_reason())),
]

A_IP, B_IP = "192.0.2.121", "192.0.2.122"
POLL = 0.1
DETECTION = 0.3  # 100 ms x 3
SLACK = 1.0
DROP_BFD = """table inet hvbfd_f {
  chain in { type filter hook input priority 0; udp dport 3784 drop; }
}"""


def _conf(me: str, peer: str, dev: str) -> str:
    return f"""router id {me};
protocol device {{}}
protocol bfd {{
  interface "{dev}" {{ min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }};
  neighbor {peer} dev "{dev}" local {me};
}}
"""


@pytest.fixture
def pair(tmp_path: Path):
    a, b = Netns("hvbfdA"), Netns("hvbfdB")
    birds: list[Bird] = []
    try:
        a.ip("link", "add", "fva", "type", "veth", "peer", "name", "fvb", "netns", b.name)
        a.ip("addr", "add", f"{A_IP}/24", "dev", "fva")
        b.ip("addr", "add", f"{B_IP}/24", "dev", "fvb")
        a.ip("link", "set", "fva", "up")
        b.ip("link", "set", "fvb", "up")
        bird_a = Bird(a, tmp_path, "a", _conf(A_IP, B_IP, "fva")).start()
        bird_b = Bird(b, tmp_path, "b", _conf(B_IP, A_IP, "fvb")).start()
        birds += [bird_a, bird_b]
        yield a, b, bird_a, bird_b, tmp_path
    finally:
        for bird in birds:
            bird.stop()
        a.delete()
        b.delete()


def test_client_follows_birds_bfd_session(pair):
    _a, b, bird_a, bird_b, tmp_path = pair
    changes: list[tuple[float, SessionChanged]] = []
    measured: dict[str, float] = {}

    async def wait_for(up: bool, since: float, bound: float, what: str) -> None:
        with trio.fail_after(bound):
            while not any(t >= since and c.up == up for t, c in changes):
                await trio.sleep(0.01)
        at = next(t for t, c in changes if t >= since and c.up == up)
        measured[what] = at - since

    async def blocking(fn, *args):
        return await trio.to_thread.run_sync(fn, *args)

    async def main() -> None:
        client = BirdBfdClient(str(bird_a.socket), [
            SessionSpec("peer", B_IP, "fva"), SessionSpec("absent", "192.0.2.123")],
            POLL, lambda change: changes.append((time.monotonic(), change)))
        async with trio.open_nursery() as nursery:
            t0 = time.monotonic()
            nursery.start_soon(client.run)
            # BIRD's session comes up (Down -> Init -> Up takes a few 1 s slow-tx intervals)
            await wait_for(True, t0, 15.0, "initial up")
            # 1. the peer's BFD packets dropped: BIRD's detection time, then our poll
            t0 = time.monotonic()
            await blocking(b.nft, DROP_BFD)
            await wait_for(False, t0, DETECTION + POLL + SLACK, "nft drop -> down")
            t0 = time.monotonic()
            await blocking(b.run, "nft", "delete", "table", "inet", "hvbfd_f")
            await wait_for(True, t0, 10.0, "nft restored -> up")
            # 2. the peer's BIRD stopped, then started again
            t0 = time.monotonic()
            await blocking(bird_b.stop)
            await wait_for(False, t0, DETECTION + POLL + SLACK + 3.0, "peer BIRD stopped -> down")
            t0 = time.monotonic()
            await blocking(bird_b.start)
            await wait_for(True, t0, 15.0, "peer BIRD started -> up")
            # 3. our own BIRD stopped: the socket is gone, every session down at once
            t0 = time.monotonic()
            await blocking(bird_a.stop)
            await wait_for(False, t0, POLL + SLACK + 3.0, "local BIRD stopped -> down")
            assert not client.connected
            nursery.cancel_scope.cancel()
        # the absent neighbor never came up; every change is reported once
        assert all(c.name == "peer" for _, c in changes)
        ups = [c.up for _, c in changes]
        assert all(x != y for x, y in itertools.pairwise(ups))

    trio.run(main)
    print("bfd timings:", {k: round(v, 3) for k, v in measured.items()})
    (tmp_path / "timings.txt").write_text(repr(measured))


# ---- haipvs itself: track_bfd (no weight) puts the VRRP instance in FAULT ------------------

def test_track_bfd_without_weight_faults_the_instance(lan, ops_node, tmp_path):
    """keepalived vrrp_scheduler.c vrrp_handle_bfd_event: an unweighted track_bfd downs the
    instance (down_instance -> FAULT) while the session is down and try_up_instance when it
    is up again; the session here is BIRD's, read over its control socket."""
    d1, d2 = lan.add_node("d1"), lan.add_node("d2")
    bird_a = Bird(d1.netns, tmp_path, "a", _conf(d1.ip, d2.ip, "eth0")).start()
    bird_b = Bird(d2.netns, tmp_path, "b", _conf(d2.ip, d1.ip, "eth0")).start()
    try:
        node = ops_node(d1, FAST.but(name="VI_1", vrid=61, priority=150,
                                     vips=("192.0.2.160/24",)),
                        top={"bfd": {"control_socket": str(bird_a.socket),
                                     "poll_interval": POLL,
                                     "sessions": [{"name": "peer", "neighbor": d2.ip}]}},
                        per_instance={"VI_1": {"track_bfd": ["peer"]}})
        node.wait_state("MASTER", 20)  # BIRD's session comes up, then the instance
        timings = {}
        t0 = time.monotonic()
        d2.netns.nft(DROP_BFD)
        node.wait_state("FAULT", DETECTION + POLL + SLACK + 1.0)
        timings["nft drop -> FAULT"] = time.monotonic() - t0
        assert not node.has_vip()
        t0 = time.monotonic()
        d2.netns.run("nft", "delete", "table", "inet", "hvbfd_f")
        node.wait_state("MASTER", 10)
        timings["restored -> MASTER"] = time.monotonic() - t0
        t0 = time.monotonic()
        bird_b.stop()
        node.wait_state("FAULT", DETECTION + POLL + SLACK + 3.0)
        timings["peer BIRD stopped -> FAULT"] = time.monotonic() - t0
        bird_b.start()
        node.wait_state("MASTER", 15)
        t0 = time.monotonic()
        bird_a.stop()  # our BIRD gone: every session down, the instance FAULT
        node.wait_state("FAULT", POLL + SLACK + 3.0)
        timings["local BIRD stopped -> FAULT"] = time.monotonic() - t0
        reasons = node.instance_dump()
        print("track_bfd timings:", {k: round(v, 3) for k, v in timings.items()})
        assert "track_bfd:peer" in str(reasons)
    finally:
        bird_a.stop()
        bird_b.stop()
