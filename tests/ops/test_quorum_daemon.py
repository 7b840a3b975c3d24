"""Daemon wiring of quorum (events, quorum_up/quorum_down scripts, sorry server in the desired
table) and ha_suspend (checks paused until the VIP's instance is MASTER), with fake probes and
no VRRP thread, IPVS or network: transitions are fed in as the VRRP thread would."""

import collections
import json
from pathlib import Path

import trio

from haipvs.config import load_config_text
from haipvs.daemon import Daemon
from haipvs.events import VrrpTransition
from haipvs.health import HealthEngine, specs_from_config
from haipvs.health.state import CheckResult
from haipvs.ipvs.desired import service_key
from haipvs.ipvs.model import DestKey
from haipvs.policy.director import RefreshIpvs, Start
from haipvs.vrrp.messages import State

CONFIG = """
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    virtual_ipaddress: [192.0.2.100/24]
virtual_servers:
  - address: 192.0.2.100
    port: 80
    delay_loop: 0.05
    quorum: 2
    hysteresis: 1
    ha_suspend: true
    quorum_up: [/bin/sh, -c, 'echo "up $HAIPVS_WEIGHT $HAIPVS_SERVICE" >> {log}']
    quorum_down: [/bin/sh, -c, 'echo "down $HAIPVS_WEIGHT" >> {log}']
    sorry_server: {{address: 198.51.100.99, port: 8080}}
    real_servers:
{servers}
"""
SERVERS = ("198.51.100.10", "198.51.100.11", "198.51.100.12")


class FakeProbes:
    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.calls: collections.Counter[str] = collections.Counter()

    async def __call__(self, probe) -> CheckResult:
        address = probe.endpoint.address
        self.calls[address] += 1
        await trio.sleep(0)
        return CheckResult(address not in self.failing, "fake")


def make_daemon(tmp_path: Path) -> tuple[Daemon, FakeProbes, Path]:
    log = tmp_path / "quorum.log"
    servers = "\n".join(f"      - {{address: {a}, port: 8080, tcp_check: {{retry: 0}}}}"
                        for a in SERVERS)
    config = load_config_text(CONFIG.format(log=log, servers=servers), "quorum.yaml")
    daemon = Daemon(config, "quorum.yaml")
    probes = FakeProbes()
    daemon.health_engine = HealthEngine(specs_from_config(config), daemon._health_changed,
                                        probe_runner=probes)
    return daemon, probes, log


async def wait_for(condition, what: str, timeout: float = 10.0) -> None:
    with trio.move_on_after(timeout):
        while not condition():
            await trio.sleep(0.01)
        return
    raise AssertionError(f"timed out waiting for {what}")


def desired(daemon: Daemon) -> list[str]:
    (service,) = daemon.reconciler.desired.services
    return sorted(d.address for d in service.destinations)


def quorum_events(daemon: Daemon) -> list[tuple[bool, int]]:
    return [(e["up"], e["weight"]) for e in daemon.recent_events if e["kind"] == "quorum"]


def paused(daemon: Daemon) -> set[bool]:
    """Pause flags of every server and of every check the engine runs for them."""
    servers = daemon.health_engine.snapshot()
    return {s["paused"] for s in servers} | {c["paused"] for s in servers for c in s["checks"]}


def log_lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def transition(daemon: Daemon, old: State, new: State) -> None:
    daemon._events_in.send_nowait(VrrpTransition(instance="VI_1", old=old, new=new,
                                                 reason="test", priority=100, at=0.0))


async def test_quorum_and_ha_suspend_in_the_daemon(tmp_path, nursery):
    daemon, probes, log = make_daemon(tmp_path)
    key = service_key(daemon.config.virtual_servers[0])
    await nursery.start(daemon.notify_runner.run)
    nursery.start_soon(daemon.consume_events)
    # As Daemon.main: every instance is INIT, so the service starts with its checks paused.
    daemon.feed(Start())
    await nursery.start(daemon.health_engine.run)
    daemon.feed(RefreshIpvs())
    policy = daemon.director
    assert paused(daemon) == {True} and policy.ha_suspended == {key}
    assert policy.quorum.states == {key: True}  # 3 live >= quorum 2 + hysteresis 1
    # keepalived/check/ipwrapper.c init_service_vs -> update_quorum_state(init): a service
    # starting with its quorum is "Gained quorum": a VS UP event and quorum_up.
    assert quorum_events(daemon) == [(True, 3)]
    await wait_for(lambda: log_lines(log) == [f"up 3 {key}"], "quorum_up script at start")
    assert desired(daemon) == list(SERVERS) and probes.calls.total() == 0

    transition(daemon, State.INIT, State.MASTER)
    await wait_for(lambda: probes.calls.total() >= 3, "checks to resume on MASTER")
    assert paused(daemon) == {False} and policy.ha_suspended == set()

    def health_settled(*down: str):
        # as the director sees it: the daemon hands it a loop turn's changes together
        return lambda: all(policy.health.health(key, DestKey(a, 8080)).up == (a not in down)
                           for a in SERVERS)

    # Two of three down: 1 live is still >= quorum - hysteresis = 1, quorum holds.
    probes.failing = {SERVERS[0], SERVERS[1]}
    await wait_for(health_settled(SERVERS[0], SERVERS[1]), "two servers down")
    assert policy.quorum.states == {key: True} and quorum_events(daemon) == [(True, 3)]
    assert desired(daemon) == [SERVERS[2]]

    probes.failing = set(SERVERS)
    await wait_for(lambda: quorum_events(daemon) == [(True, 3), (False, 0)], "quorum lost")
    assert desired(daemon) == ["198.51.100.99"]
    await wait_for(lambda: log_lines(log) == [f"up 3 {key}", "down 0"], "quorum_down script")

    # Regaining needs quorum + hysteresis = 3: two live servers are not enough.
    probes.failing = {SERVERS[0]}
    await wait_for(health_settled(SERVERS[0]), "two servers back")
    assert policy.quorum.states == {key: False} and desired(daemon) == ["198.51.100.99"]

    probes.failing = set()
    await wait_for(lambda: quorum_events(daemon) == [(True, 3), (False, 0), (True, 3)],
                    "quorum regained")
    assert desired(daemon) == list(SERVERS)
    await wait_for(lambda: log_lines(log) == [f"up 3 {key}", "down 0", f"up 3 {key}"],
                    "quorum_up script")

    transition(daemon, State.MASTER, State.BACKUP)
    await wait_for(lambda: paused(daemon) == {True}, "checks paused on BACKUP")
    assert policy.ha_suspended == {key}
    # Health keeps its last state while suspended: the table does not change.
    assert desired(daemon) == list(SERVERS)
    event = next(e for e in daemon.recent_events if e["kind"] == "quorum")
    assert event["initial"] is True
    assert json.loads(json.dumps(event, default=str))["service"] == str(key)
    nursery.cancel_scope.cancel()
