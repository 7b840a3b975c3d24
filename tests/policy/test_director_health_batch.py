"""Health changes in bulk: keepalived/check/ipwrapper.c update_svr_checker_state handles
each checker result on its own (the RS line, then update_quorum_state for that server's
virtual server). The director does the same per change, but counts a service's live weight
by the changed server's share and builds the table once per HealthBatch, keeping each
virtual server's entries until its health or quorum changes. Whatever the grouping, the
events and the table must be exactly those of the one-change-at-a-time rule, recomputed from
scratch (desired.desired_table)."""

from __future__ import annotations

import random

from haipvs.events import QuorumEvent
from haipvs.ipvs import desired
from haipvs.ipvs.model import DestKey, ServiceKey
from haipvs.policy.director import (
    ConfigApplied,
    ConfigChanged,
    DesiredIpvs,
    Emit,
    HealthBatch,
    HealthChanged,
)
from haipvs.policy.quorum import QuorumTracker
from tests.policy.director_support import config, director, health, of_type

SERVERS = [f"198.51.100.{n}" for n in range(10, 16)]
API_KEY = ServiceKey.inet("TCP", "192.0.2.101", 443)
BATCH_CONFIG = """
virtual_servers:
  - address: 192.0.2.100
    port: 80
    quorum: 4
    hysteresis: 1
    sorry_server: {address: 203.0.113.9, port: 8080}
    real_servers:
""" + "".join(f"""      - {{address: {a}, port: 8080, weight: {1 + i % 3}}}
""" for i, a in enumerate(SERVERS)) + """
  - address: 192.0.2.101
    port: 443
    inhibit_on_failure: true
    real_servers:
""" + "".join(f"""      - {{address: {a}, port: 443}}
""" for a in SERVERS[:3])


def random_changes(seed: int, count: int) -> list[HealthChanged]:
    rng = random.Random(seed)
    changes = []
    for _ in range(count):
        if rng.random() < 0.7:
            weight = rng.choice([None, None, 0, 2, 5])
            changes.append(health(rng.choice(SERVERS), rng.random() < 0.5, weight=weight))
        else:
            changes.append(health(rng.choice(SERVERS[:3]), rng.random() < 0.5,
                                  service=API_KEY, port=443))
    return changes


def from_scratch(policy) -> desired.IpvsTable:
    return desired.desired_table(policy.config, policy.health, policy.quorum.states)


def test_check_update_svr_checker_state_batch_tells_what_single_changes_tell():
    for seed in range(20):
        changes = random_changes(seed, 40)
        one_by_one, batched = director(BATCH_CONFIG), director(BATCH_CONFIG)
        singles = [o for change in changes for o in one_by_one.handle(1.0, change)]
        rng = random.Random(seed)
        grouped, start = [], 0
        while start < len(changes):
            size = rng.randint(1, 7)
            grouped.extend(batched.handle(1.0, HealthBatch(tuple(changes[start:start + size]))))
            start += size
        # the same events and scripts, in the same order; tables only at batch ends
        assert ([o for o in singles if not isinstance(o, DesiredIpvs)]
                == [o for o in grouped if not isinstance(o, DesiredIpvs)]), seed
        assert of_type(grouped, DesiredIpvs)[-1].table == of_type(singles, DesiredIpvs)[-1].table
        assert of_type(singles, DesiredIpvs)[-1].table == from_scratch(one_by_one), seed


def test_check_update_quorum_state_each_table_matches_a_full_recompute():
    # the reference: keepalived's rule as the director had it, every service's live weight
    # summed again after each change
    policy = director(BATCH_CONFIG)
    reference = QuorumTracker()
    services = policy.config.virtual_servers
    reference.update(desired.quorum_input(vs, policy.health) for vs in services)
    for change in random_changes(99, 60):
        out = policy.handle(1.0, change)
        expected = reference.update(desired.quorum_input(vs, policy.health) for vs in services)
        told = [o.event for o in out if isinstance(o, Emit) and isinstance(o.event, QuorumEvent)]
        assert [(e.up, e.weight) for e in told] == [(c.up, c.weight) for c in expected]
        assert dict(policy.quorum.states) == dict(reference.states)
        (table,) = of_type(out, DesiredIpvs)
        assert table.table == from_scratch(policy)


def test_check_quorum_counts_a_reloaded_config_before_its_first_health_change():
    # A health change between a reload (ConfigChanged) and ConfigApplied sees the new
    # config's services with the full pass, as before (clear_diff_services, then checkers).
    policy = director(BATCH_CONFIG)
    policy.handle(1.0, health(SERVERS[0], False))
    smaller = BATCH_CONFIG.replace("quorum: 4", "quorum: 2")
    policy.handle(2.0, ConfigChanged(config(smaller)))
    out = policy.handle(2.0, HealthBatch((health(SERVERS[1], False),)))
    assert of_type(out, DesiredIpvs)[-1].table == from_scratch(policy)
    out = policy.handle(2.0, ConfigApplied())
    assert of_type(out, DesiredIpvs)[-1].table == from_scratch(policy)


def test_empty_batch_does_nothing():
    assert director(BATCH_CONFIG).handle(1.0, HealthBatch(())) == []


def test_check_rs_line_for_each_change_of_a_batch():
    policy = director(BATCH_CONFIG)
    batch = HealthBatch((health(SERVERS[0], False), health(SERVERS[0], True)))
    lines = [o.event for o in policy.handle(1.0, batch) if isinstance(o, Emit)
             and getattr(o.event, "real_server", None) == str(DestKey(SERVERS[0], 8080))]
    assert [(e.up, e.up_changed) for e in lines] == [(False, True), (True, True)]
