"""The pure planner: smallest op list, SET for changes, foreign services untouched, order."""

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from haipvs.ipvs.model import (
    AF_INET6,
    SVC_F_SH_PORT,
    Destination,
    ForwardMethod,
    IpvsTable,
    Service,
    ServiceKey,
    SyncDaemonConfig,
    SyncState,
    Timeouts,
    TunnelType,
)
from haipvs.ipvs.ops import OpKind, SetTimeouts, StartSyncDaemon, StopSyncDaemon
from haipvs.ipvs.planner import plan, plan_sync_daemons, plan_timeouts

WEB = ServiceKey.inet("tcp", "192.0.2.100", 80)
DNS = ServiceKey.inet("udp", "192.0.2.100", 53)
MARK = ServiceKey.mark(7)
V6 = ServiceKey.inet("tcp", "2001:db8::100", 443)


def web(*dests: Destination, **kw) -> Service:
    return Service(WEB, kw.pop("scheduler", "wrr"), destinations=dests, **kw)


RS1 = Destination("198.51.100.10", 8080, weight=1)
RS2 = Destination("198.51.100.11", 8080, weight=2)


def apply_plan(actual: IpvsTable, ops) -> IpvsTable:
    """What the kernel would hold after `ops` (a model of the kernel's semantics)."""
    services = {s.key: s for s in actual}
    for op in ops:
        key = op.service.key
        if op.kind == OpKind.ADD_SERVICE:
            assert key not in services
            services[key] = op.service
        elif op.kind == OpKind.SET_SERVICE:
            services[key] = replace(op.service, destinations=services[key].destinations)
        elif op.kind == OpKind.DEL_SERVICE:
            del services[key]
        else:
            dests = dict(services[key].dest_map)
            if op.kind == OpKind.ADD_DEST:
                assert op.dest.key not in dests
                dests[op.dest.key] = op.dest
            elif op.kind == OpKind.SET_DEST:
                assert op.dest.key in dests
                dests[op.dest.key] = op.dest
            else:
                del dests[op.dest.key]
            services[key] = replace(services[key], destinations=tuple(dests.values()))
    return IpvsTable(tuple(services.values()))


def test_empty_kernel_gets_services_then_dests():
    desired = IpvsTable((web(RS1, RS2),))
    result = plan(desired, IpvsTable(), set())
    assert [op.kind for op in result] == [OpKind.ADD_SERVICE, OpKind.ADD_DEST, OpKind.ADD_DEST]
    assert apply_plan(IpvsTable(), result) == desired
    assert result.foreign == []


def test_second_plan_is_empty():
    desired = IpvsTable((web(RS1, RS2), Service(MARK, "lc", destinations=(RS1,))))
    after = apply_plan(IpvsTable(), plan(desired, IpvsTable(), set()))
    assert not plan(desired, after, desired.keys())


def test_weight_change_is_one_set_dest():
    actual = IpvsTable((web(RS1, RS2),))
    desired = IpvsTable((web(RS1, replace(RS2, weight=5)),))
    result = plan(desired, actual, {WEB})
    assert [(op.kind, op.dest.weight) for op in result] == [(OpKind.SET_DEST, 5)]


def test_thresholds_forwarding_and_tunnel_changes_use_set_dest():
    actual = IpvsTable((web(RS1),))
    for changed in (
        replace(RS1, u_threshold=100, l_threshold=10),
        replace(RS1, fwd=ForwardMethod.DR),
        replace(RS1, fwd=ForwardMethod.TUN, tun_type=TunnelType.GUE, tun_port=6080, tun_flags=1),
    ):
        result = plan(IpvsTable((web(changed),)), actual, {WEB})
        assert [op.kind for op in result] == [OpKind.SET_DEST]
        assert result.ops[0].dest == changed


def test_scheduler_flags_and_persistence_changes_use_set_service():
    actual = IpvsTable((web(RS1),))
    for changed in (
        web(RS1, scheduler="sh", flags=SVC_F_SH_PORT),
        web(RS1, persistence_timeout=300),
        web(RS1, persistence_timeout=300, netmask=24),
    ):
        result = plan(IpvsTable((changed,)), actual, {WEB})
        assert [op.kind for op in result] == [OpKind.SET_SERVICE]
        assert result.ops[0].service.settings == changed.settings


def test_counters_do_not_cause_changes():
    busy = replace(RS1, active_conns=12, inactive_conns=40)
    assert not plan(IpvsTable((web(RS1),)), IpvsTable((web(busy),)), {WEB})


def test_foreign_services_are_reported_and_never_touched():
    foreign = Service(DNS, "rr", destinations=(Destination("198.51.100.20", 53),))
    actual = IpvsTable((web(RS1), foreign))
    result = plan(IpvsTable((web(RS1, RS2),)), actual, {WEB})
    assert result.foreign == [DNS]
    assert all(op.service.key == WEB for op in result)
    # Even an empty desired table leaves it alone.
    assert plan(IpvsTable(), actual, set()).ops == []


def test_owned_service_missing_from_desired_is_deleted_without_dest_ops():
    actual = IpvsTable((web(RS1, RS2), Service(MARK, "lc", destinations=(RS1,))))
    result = plan(IpvsTable((web(RS1, RS2),)), actual, {WEB, MARK})
    assert [(op.kind, op.service.key) for op in result] == [(OpKind.DEL_SERVICE, MARK)]


def test_order_adds_before_sets_before_deletes():
    actual = IpvsTable((web(RS1, RS2), Service(MARK, "lc")))
    rs3 = Destination("198.51.100.12", 8080)
    desired = IpvsTable((
        web(replace(RS1, weight=9), rs3, scheduler="rr"),
        Service(V6, "wlc", destinations=(Destination("2001:db8:1::10", 443),)),
    ))
    result = plan(desired, actual, {WEB, MARK})
    kinds = [op.kind for op in result]
    assert kinds == [OpKind.ADD_SERVICE, OpKind.SET_SERVICE, OpKind.ADD_DEST, OpKind.ADD_DEST,
                     OpKind.SET_DEST, OpKind.DEL_DEST, OpKind.DEL_SERVICE]
    assert apply_plan(actual, result) == desired


def test_fwmark_ipv6_keys_are_distinct_from_ipv4():
    v4 = Service(ServiceKey.mark(7), "lc")
    v6 = Service(ServiceKey.mark(7, AF_INET6), "lc")
    result = plan(IpvsTable((v4, v6)), IpvsTable((v4,)), set())
    assert [(op.kind, op.service.key.family) for op in result] == [
        (OpKind.ADD_SERVICE, AF_INET6)
    ]


addresses = st.sampled_from([f"198.51.100.{i}" for i in range(10, 16)])
dests = st.builds(Destination, address=addresses, port=st.sampled_from([0, 80]),
                  fwd=st.sampled_from(list(ForwardMethod)), weight=st.integers(0, 5),
                  u_threshold=st.integers(0, 3))
services = st.builds(
    Service,
    key=st.sampled_from([WEB, DNS, MARK, V6]),
    scheduler=st.sampled_from(["rr", "wrr", "lc"]),
    persistence_timeout=st.sampled_from([None, 50]),
    destinations=st.lists(dests, max_size=4, unique_by=lambda d: d.key).map(tuple),
)
tables = st.lists(services, max_size=4, unique_by=lambda s: s.key).map(
    lambda ss: IpvsTable(tuple(ss))
)


@given(desired=tables, actual=tables, extra_owned=st.sets(st.sampled_from([WEB, DNS, MARK, V6])))
def test_plan_converges_in_one_pass_and_keeps_foreign(desired, actual, extra_owned):
    result = plan(desired, actual, extra_owned)
    after = apply_plan(actual, result)
    owned = extra_owned | desired.keys()
    assert after.restricted_to(owned) == desired
    for key in actual.keys() - owned:
        assert after.get(key) == actual.get(key)
    assert sorted(result.foreign, key=lambda k: k.sort_key) == sorted(
        actual.keys() - owned, key=lambda k: k.sort_key)
    assert not plan(desired, after, owned)


# keepalived's check/ipvswrapper.c: ipvs_set_timeouts() sends only the configured
# lvs_timeouts (0 keeps the kernel's value, as `ipvsadm --set` does).

def test_timeouts_set_only_when_a_configured_value_differs():
    have = Timeouts(900, 120, 300)
    assert plan_timeouts(Timeouts(900, 0, 0), have) is None
    assert plan_timeouts(Timeouts(0, 0, 0), have) is None
    want = Timeouts(100, 0, 30)
    assert plan_timeouts(want, have) == SetTimeouts(want)


# keepalived's check/ipvswrapper.c: ipvs_start/stop_syncd(); the kernel cannot change a
# running daemon's interface or syncid, so a changed one is stopped and started again.

MASTER = SyncDaemonConfig(SyncState.MASTER, "eth1", 5)
BACKUP = SyncDaemonConfig(SyncState.BACKUP, "eth1", 5)


def test_sync_daemon_started_when_missing_and_left_alone_when_running():
    assert plan_sync_daemons([MASTER], []) == [StartSyncDaemon(MASTER)]
    # the kernel reports maxlen/port/ttl it chose; only interface and syncid are compared
    running = replace(MASTER, maxlen=1472, mcast_port=8848, mcast_ttl=1)
    assert plan_sync_daemons([MASTER], [running]) == []


def test_sync_daemon_switch_stops_before_it_starts():
    assert plan_sync_daemons([BACKUP], [MASTER]) == [
        StopSyncDaemon(SyncState.MASTER), StartSyncDaemon(BACKUP)]
    moved = replace(MASTER, interface="eth2")
    assert plan_sync_daemons([moved], [MASTER]) == [
        StopSyncDaemon(SyncState.MASTER), StartSyncDaemon(moved)]
    assert plan_sync_daemons([], [MASTER, BACKUP]) == [
        StopSyncDaemon(SyncState.MASTER), StopSyncDaemon(SyncState.BACKUP)]
