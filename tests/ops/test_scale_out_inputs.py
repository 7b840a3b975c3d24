"""What haipvs/daemon_scale_out.py feeds the announce policy (issue 17, "Health -> announce"):
health from the director's quorum states (the real Director with real health changes), IPVS
presence from the reconciler's observed table (its desired table where the kernel has no
IPVS), nothing before each is known."""

from __future__ import annotations

import ipaddress
from types import SimpleNamespace

from haipvs.config import load_config_text
from haipvs.daemon_scale_out import ScaleOutRuntime
from haipvs.ipvs.desired import RealServerHealth, dest_key, service_key
from haipvs.ipvs.model import IpvsTable
from haipvs.policy import director
from haipvs.policy.announce import Phase
from haipvs.sdnotify import SystemdNotifier

VIP = ipaddress.ip_address("203.0.113.10")
CONFIG = """\
global: {}
virtual_servers:
  - address: 203.0.113.10
    port: 80
    lb_kind: DR
    real_servers:
      - {address: 198.51.100.11, port: 80}
  - address: 203.0.113.10
    port: 443
    lb_kind: DR
    real_servers:
      - {address: 198.51.100.11, port: 443}
scale_out:
  rise: 1
  vips: [{address: 203.0.113.10}]
"""


def runtime(state: str = "starting"):
    config = load_config_text(CONFIG, "t.yaml")
    policy = director.Director(config)
    reconciler = SimpleNamespace(state=state, observed=None, desired=IpvsTable())
    daemon = SimpleNamespace(config=config, director=policy, reconciler=reconciler,
                             state_dir="/nonexistent", systemd=SystemdNotifier({}))
    run = ScaleOutRuntime(daemon, None, config.scale_out)  # type: ignore[arg-type]
    return run, daemon


def director_table(daemon) -> IpvsTable:
    outputs = daemon.director.handle(0.0, director.RefreshIpvs())
    tables = [o.table for o in outputs if isinstance(o, director.DesiredIpvs)]
    return tables[-1]


def test_nothing_is_fed_before_the_quorum_and_the_first_ipvs_pass_are_known():
    run, daemon = runtime("starting")
    run._observe()
    vip = run.policy.vips[VIP]
    assert (vip.healthy, vip.ipvs_present, vip.phase) == (None, None, Phase.IDLE)
    daemon.director.handle(0.0, director.Start())
    run._observe()
    assert (vip.healthy, vip.ipvs_present) == (True, None)  # the reconciler has not run


def test_ipvs_present_from_the_observed_table_every_service_of_the_vip():
    run, daemon = runtime("ok")
    daemon.director.handle(0.0, director.Start())
    table = director_table(daemon)
    one_service = IpvsTable(table.services[:1])
    daemon.reconciler.observed = one_service  # port 443 missing from the kernel
    run._observe()
    assert run.policy.vips[VIP].ipvs_present is False
    daemon.reconciler.observed = table
    run._observe()
    assert run.policy.vips[VIP].ipvs_present is True
    assert run.policy.vips[VIP].phase is Phase.ANNOUNCED


def test_without_ipvs_in_the_kernel_presence_is_read_from_the_desired_table():
    run, daemon = runtime("unavailable")
    daemon.director.handle(0.0, director.Start())
    daemon.reconciler.desired = director_table(daemon)
    run._observe()
    assert run.policy.vips[VIP].ipvs_present is True


def test_one_service_of_the_vip_losing_its_quorum_makes_the_vip_unhealthy():
    run, daemon = runtime("unavailable")
    config = daemon.config
    daemon.director.handle(0.0, director.Start())
    daemon.reconciler.desired = director_table(daemon)
    run._observe()
    assert run.policy.vips[VIP].healthy is True
    vs = config.virtual_servers[1]
    daemon.director.handle(1.0, director.HealthChanged(
        service_key(vs), dest_key(vs.real_servers[0]), RealServerHealth(False, 1, "refused")))
    run._observe()
    assert run.policy.vips[VIP].healthy is False


def test_the_text_dump_shows_each_bgp_vips_announce_state():
    from haipvs.statedump import render_text

    run, daemon = runtime("unavailable")
    daemon.director.handle(0.0, director.Start())
    daemon.reconciler.desired = director_table(daemon)
    run._observe()
    text = render_text({"format": 1, "pid": 1, "generated_at": 0.0, "started_at": 0.0,
                        "router_id": "d1", "config": "t.yaml", "instances": {},
                        "scale_out": run.dump()})
    assert "Scale-out: table 201, uplink none (up)" in text
    assert "203.0.113.10       announced  route in the table, metric 0, fit True" in text
