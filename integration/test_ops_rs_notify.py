"""Acceptance 3 of issue 16: a real server (a real TCP server process in its own namespace)
flapped 20 times runs notify_up / notify_down exactly once per transition, in order, never
two at once, each as its own user and group (keepalived check_parser.c notify_up_handler:
`notify_up SCRIPT USER [GROUP]`; ipwrapper.c perform_svr_state -> do_rs_notifies), and
nothing at start (the server starts alive: init_service_rs) nor at stop (no `omega`:
clear_service_rs returns before do_rs_notifies). No IPVS on this host: the checkers and the
scripts run, the table is not programmed."""

from __future__ import annotations

import time

import pytest

from integration.harness.proc import Proc
from integration.harness.servers import tcp_accept_server
from integration.harness.wait import wait_until
from integration.script_users_support import (  # noqa: F401 - fixtures used by name
    out_file,
    script_dir,
    two_users,
)
from integration.test_ops_support import (  # noqa: F401 - the fixture is used by name
    FAST,
    ops_node_fixture,
    read_json_lines,
)

pytestmark = pytest.mark.netns

VI_1 = FAST.but(name="VI_1", vrid=91, vips=("192.0.2.191/24",))
FLAPS = 20
CHECK = {"connect_timeout": 1, "retry": 0, "delay_before_retry": 0.2}
# a check every 0.3 s; the runner and the server's start on a loaded 2-core machine
STEP_TIMEOUT = 10.0


def test_a_real_server_flapped_20_times_runs_each_script_once_in_order_as_its_user(
        lan, ops_node, two_users, script_dir, tmp_path):  # noqa: F811 - fixtures
    user_a, user_b = two_users
    director, rs = lan.add_node("dir"), lan.add_node("rs1")
    log = out_file(script_dir, "rs.log")
    ids = str(script_dir / "ids.sh")
    starts = iter(range(FLAPS + 1))

    def serve() -> Proc:
        server_log = tmp_path / f"tcp{next(starts)}.log"
        server = Proc(rs.netns, tcp_accept_server(8081), server_log, name="tcp")
        wait_until(lambda: server_log.exists() and "ready" in server_log.read_text(), 10,
                   what="the TCP server")
        return server

    def done(tag: str) -> int:
        return sum(1 for line in log.read_text().splitlines() if line.startswith(f"{tag} "))

    server = serve()
    events = tmp_path / "events.jsonl"
    real_server = {
        "address": rs.ip, "port": 8081, "tcp_check": CHECK,
        "notify_up": {"command": [ids, str(log), "up"], "user": user_a.name},
        # keepalived's `notify_down "SCRIPT" USER GROUP`: B's uid with A's group
        "notify_down": {"command": [ids, str(log), "down"], "user": user_b.name,
                        "group": user_a.name}}
    daemon = ops_node(director, VI_1.but(priority=100), top={
        "global": {"event_log": str(events)},
        "virtual_servers": [{"address": "192.0.2.100", "port": 80, "protocol": "TCP",
                             "delay_loop": 0.3, "real_servers": [real_server]}]})
    try:
        daemon.wait_state("MASTER", 8)
        started = time.monotonic()
        for flap in range(1, FLAPS + 1):
            server.stop(3)
            wait_until(lambda n=flap: done("down") == n, STEP_TIMEOUT,
                       what=f"notify_down {flap}", describe=daemon.describe)
            server = serve()
            wait_until(lambda n=flap: done("up") == n, STEP_TIMEOUT,
                       what=f"notify_up {flap}", describe=daemon.describe)
        flapping = time.monotonic() - started
        time.sleep(1.0)  # three more checks: nothing more may run
        assert daemon.stop() == 0
    finally:
        server.stop(3)

    down = ["start down", f"down {user_b.uid} {user_a.gid}"]
    up = ["start up", f"up {user_a.uid} {user_a.gid}"]
    # once per transition, in order, never overlapping (start/end pairs), as their users;
    # nothing at start (the server was up) and nothing at stop (no omega)
    assert log.read_text().splitlines() == (down + up) * FLAPS
    changes = [(e["up"], e["reason"]) for e in read_json_lines(events)
               if e["kind"] == "realserver"]
    assert [up for up, _ in changes] == [False, True] * FLAPS
    print(f"{FLAPS} flaps in {flapping:.1f} s")  # the timing, for the report



def test_rs_init_notifies_at_start_and_a_reload_removing_a_live_server(
        lan, ops_node, two_users, script_dir, tmp_path):  # noqa: F811 - fixtures
    """global_defs rs_init_notifies: notify_up for each server starting up (ipwrapper.c
    init_service_rs, at start and for one a reload adds); a reload that removes a live server
    runs its notify_down (clear_diff_rs -> clear_service_rs, not stopping), one that removes
    a dead server runs nothing; nothing at stop (no omega)."""
    user_a, user_b = two_users
    director, rs = lan.add_node("dir"), lan.add_node("rs1")
    log = out_file(script_dir, "rs.log")
    ids = str(script_dir / "ids.sh")
    server_log = tmp_path / "tcp.log"
    server = Proc(rs.netns, tcp_accept_server(8081), server_log, name="tcp")
    wait_until(lambda: server_log.exists() and "ready" in server_log.read_text(), 10,
               what="the TCP server")

    def real_server(port: int, tag: str) -> dict:
        return {"address": rs.ip, "port": port, "tcp_check": CHECK,
                "notify_up": {"command": [ids, str(log), f"up-{tag}"], "user": user_a.name},
                "notify_down": {"command": [ids, str(log), f"down-{tag}"],
                                "user": user_b.name}}

    def reload(*servers: dict) -> None:
        daemon.top["virtual_servers"] = [{
            "address": "192.0.2.100", "port": 80, "protocol": "TCP", "delay_loop": 0.3,
            "real_servers": list(servers)}]
        daemon.write_config(list(daemon.instances.values()))
        applied = daemon.count_log("reload_applied")
        daemon.reload()
        daemon.wait_log("reload_applied", STEP_TIMEOUT, since_count=applied)

    def ran(tag: str) -> list[str]:
        """The lines of one server's scripts (one owner: in order)."""
        return [line.split()[0] for line in log.read_text().splitlines()
                if line.split()[0] in (f"up-{tag}", f"down-{tag}")]

    live, dead = real_server(8081, "live"), real_server(8082, "dead")  # nothing on 8082
    daemon = ops_node(director, VI_1.but(priority=100), top={
        "global": {"rs_init_notifies": True},
        "virtual_servers": [{"address": "192.0.2.100", "port": 80, "protocol": "TCP",
                             "delay_loop": 0.3, "real_servers": [live, dead]}]})
    try:
        daemon.wait_state("MASTER", 8)
        # both start up (no alpha checker): notified UP; 8082 then fails its first check
        wait_until(lambda: ran("dead") == ["up-dead", "down-dead"] and ran("live") == [
            "up-live"], STEP_TIMEOUT, what="the start notifies", describe=daemon.describe)
        reload(live)  # removes the dead server: nothing runs
        reload(dead)  # removes the live one (notify_down), adds 8082 again (UP, then DOWN)
        wait_until(lambda: ran("live") == ["up-live", "down-live"]
                   and ran("dead") == ["up-dead", "down-dead"] * 2, STEP_TIMEOUT,
                   what="the reload notifies", describe=daemon.describe)
        time.sleep(1.0)  # three more checks: nothing more may run
        assert daemon.stop() == 0
    finally:
        server.stop(3)
    assert (ran("live"), ran("dead")) == (["up-live", "down-live"],
                                          ["up-dead", "down-dead"] * 2)
    ids_of = {line.split()[0]: line.split()[1:] for line in log.read_text().splitlines()
              if not line.startswith("start ")}
    assert ids_of["up-live"] == [str(user_a.uid), str(user_a.gid)]
    assert ids_of["down-live"] == [str(user_b.uid), str(user_b.gid)]


@pytest.mark.parametrize("retry", [0, 1])
def test_an_alpha_checkers_first_failure_runs_notify_down_once_as_keepalived(
        lan, ops_node, two_users, script_dir, tmp_path, retry):  # noqa: F811 - fixtures
    """ipwrapper.c update_svr_checker_state: an alpha TCP_CHECK whose first attempt fails
    (checker and server stay down) calls do_rs_notifies: the RS DOWN line and notify_down,
    once; check_tcp.c tcp_epilog sets has_run after the first attempt, so with a retry left
    (retry 1) it is never told. The server coming up later runs notify_up as usual."""
    user_a, _user_b = two_users
    director, rs = lan.add_node("dir"), lan.add_node("rs1")
    log = out_file(script_dir, "rs.log")
    ids = str(script_dir / "ids.sh")
    events = tmp_path / "events.jsonl"
    real_server = {
        "address": rs.ip, "port": 8081, "tcp_check": {**CHECK, "alpha": True, "retry": retry},
        "notify_up": {"command": [ids, str(log), "up"], "user": user_a.name},
        "notify_down": {"command": [ids, str(log), "down"], "user": user_a.name}}
    daemon = ops_node(director, VI_1.but(priority=100), top={
        "global": {"event_log": str(events)},
        "virtual_servers": [{"address": "192.0.2.100", "port": 80, "protocol": "TCP",
                             "delay_loop": 0.3, "real_servers": [real_server]}]})
    server = None
    try:
        daemon.wait_state("MASTER", 8)
        checks = lambda: daemon.dump()["ipvs"]["real_servers"][0]["checks"][0]["runs"]  # noqa: E731
        wait_until(lambda: checks() >= 5, STEP_TIMEOUT, what="five failed checks")
        downs = [line for line in log.read_text().splitlines() if line.startswith("down")]
        assert len(downs) == (1 if retry == 0 else 0), log.read_text()
        server_log = tmp_path / "tcp.log"
        server = Proc(rs.netns, tcp_accept_server(8081), server_log, name="tcp")
        wait_until(lambda: "up " in log.read_text(), STEP_TIMEOUT, what="notify_up",
                   describe=daemon.describe)
        assert daemon.stop() == 0
    finally:
        if server is not None:
            server.stop(3)
    # the start health ("alpha: not checked yet", the server starting down) is no change
    changes = [e["up"] for e in read_json_lines(events)
               if e["kind"] == "realserver" and "not checked yet" not in e["reason"]]
    assert changes == ([False, True] if retry == 0 else [True]), changes
