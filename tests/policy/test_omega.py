"""A virtual server's `omega` (keepalived 2.2.7 check/ipwrapper.c clear_services ->
clear_service_vs -> clear_service_rs / update_vs_notifies with `stopping`): which scripts the
stop runs. Pure: config and the director's health view in, RunNotify out."""

from __future__ import annotations

from pathlib import Path

from haipvs.importer import import_keepalived
from haipvs.ipvs import desired
from haipvs.ipvs.desired import RealServerHealth
from haipvs.policy.director import HealthChanged
from haipvs.policy.omega import stop_notifies
from tests.policy.director_support import RS, WEB_KEY, config, director

SERVICE = """
virtual_servers:
  - address: 192.0.2.100
    port: 80
    protocol: TCP
    {omega}
    quorum_down: [/usr/local/bin/quorum-down, web]
    real_servers:
      - {{address: {rs0}, port: 80, notify_down: [/usr/local/bin/rs-down, a],
          notify_up: [/usr/local/bin/rs-up, a], tcp_check: {{}}}}
      - {{address: {rs1}, port: 80, notify_down: [/usr/local/bin/rs-down, b], tcp_check: {{}}}}
      - {{address: {rs2}, port: 80, tcp_check: {{}}}}
"""


def text(omega: bool) -> str:
    return SERVICE.format(omega="omega: true" if omega else "", rs0=RS[0], rs1=RS[1], rs2=RS[2])


def test_without_omega_the_stop_runs_no_script():
    """clear_service_rs: `if (!vs->omega && stopping) return;` before do_rs_notifies, and
    do_vs_notifies: "Only send non SNMP notifies when stopping if omega set"."""
    policy = director(text(omega=False))
    assert stop_notifies(5.0, policy.config, policy.health.health) == []


def test_omega_runs_notify_down_of_each_live_server_then_quorum_down():
    """clear_service_rs_list: each real server in order (a live one is marked down, then
    do_rs_notifies runs its notify_down), then update_vs_notifies(stopping) runs
    quorum_down whatever the quorum was."""
    policy = director(text(omega=True))
    runs = stop_notifies(5.0, policy.config, policy.health.health)
    assert [run.scripts for run in runs] == [
        (("/usr/local/bin/rs-down", "a"),),
        (("/usr/local/bin/rs-down", "b"),),
        (("/usr/local/bin/quorum-down", "web"),),
    ]
    assert runs[0].owner == f"rs:{WEB_KEY}/{RS[0]}:80"
    assert runs[0].env["HAIPVS_STATE"] == "DOWN" and runs[0].env["HAIPVS_REASON"] == "shutdown"
    assert runs[2].owner == f"quorum:{WEB_KEY}"
    assert runs[2].env["HAIPVS_STATE"] == "DOWN" and runs[2].env["HAIPVS_WEIGHT"] == "0"


def test_omega_skips_a_server_that_is_already_down():
    """clear_service_rs: `if (!rs->alive) return;` (a failed server, also one kept with
    weight 0 by inhibit_on_failure, was notified when it went down)."""
    policy = director(text(omega=True))
    dest = desired.dest_key(policy.config.virtual_servers[0].real_servers[0])
    policy.handle(1.0, HealthChanged(WEB_KEY, dest, RealServerHealth(False, reason="test")))
    runs = stop_notifies(5.0, policy.config, policy.health.health)
    assert [run.scripts[0][1] for run in runs] == ["b", "web"]


def test_omega_with_no_scripts_runs_nothing():
    policy = director("""
virtual_servers:
  - address: 192.0.2.100
    port: 80
    protocol: TCP
    omega: true
    real_servers: [{address: 198.51.100.10, port: 80}]
""")
    assert stop_notifies(5.0, policy.config, policy.health.health) == []


def test_omega_is_off_by_default():
    """check_data.c alloc_vs(): omega false unless the keyword is given."""
    assert config(text(omega=False)).virtual_servers[0].omega is False


def test_importer_translates_omega(tmp_path: Path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text("virtual_server 192.0.2.100 80 {\n  protocol TCP\n  omega\n"
                    "  real_server 198.51.100.10 80 {\n  }\n}\n")
    result = import_keepalived(conf)
    assert result.document["virtual_servers"][0]["omega"] is True
    assert not result.dropped
