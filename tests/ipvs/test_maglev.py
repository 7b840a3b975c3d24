"""mh services on N directors: canonical add order, re-create when the kernel's list is
not the canonical one, weight 0 instead of delete (haipvs/ipvs/maglev.py).

Kernel facts followed: ip_vs_ctl.c __ip_vs_update_dest() adds a new destination at the head
of the service's list (list_add_rcu) and keeps last_weight at the last non-zero weight;
ip_vs_mh.c ip_vs_mh_populate() walks that list from the head."""

import ipaddress
from dataclasses import replace

from haipvs.config.model import (
    Config,
    GlobalSettings,
    RealServer,
    ScaleOut,
    ScaleOutVip,
    VirtualServer,
)
from haipvs.ipvs.desired import (
    RealServerHealth,
    StaticHealth,
    desired_table,
    dest_key,
    service_key,
)
from haipvs.ipvs.maglev import canonical_adds, kernel_list, out_of_order
from haipvs.ipvs.model import Destination, ForwardMethod, IpvsTable, Service, ServiceKey
from haipvs.ipvs.ops import OpKind
from haipvs.ipvs.planner import plan

VIP = ServiceKey.inet("tcp", "192.0.2.100", 80)
A = Destination("198.51.100.9", 80, fwd=ForwardMethod.DR, weight=1)
B = Destination("198.51.100.10", 80, fwd=ForwardMethod.DR, weight=1)  # numeric, not text
C = Destination("198.51.100.11", 80, fwd=ForwardMethod.DR, weight=1)
D = Destination("198.51.100.12", 80, fwd=ForwardMethod.DR, weight=1)


def mh(*dests, scheduler="mh"):
    """A service whose kernel list (a dump, head first) is `dests` in this order."""
    return Service(VIP, scheduler, destinations=tuple(dests),
                   kernel_order=tuple(d.key for d in dests))


def kernel_after(ops, actual=()):
    """The kernel's list per service after `ops`: NEW_DEST at the head, as the kernel."""
    lists = {s.key: list(s.kernel_order) for s in actual}
    for op in ops:
        if op.kind == OpKind.ADD_SERVICE:
            lists[op.service.key] = []
        elif op.kind == OpKind.DEL_SERVICE:
            del lists[op.service.key]
        elif op.kind == OpKind.ADD_DEST:
            lists[op.service.key].insert(0, op.dest.key)
        elif op.kind == OpKind.DEL_DEST:
            lists[op.service.key].remove(op.dest.key)
    return lists


def test_mh_config_order_does_not_change_the_kernel_list_ip_vs_update_dest_list_add():
    one = kernel_after(plan(IpvsTable((mh(C, A, B),)), IpvsTable(()), ()))
    two = kernel_after(plan(IpvsTable((mh(B, C, A),)), IpvsTable(()), ()))
    assert one == two == {VIP: [C.key, B.key, A.key]}  # numeric order, reversed by the head
    assert [d.key for d in canonical_adds([C, A, B])] == [A.key, B.key, C.key]


def test_other_schedulers_are_never_recreated_for_their_list_order():
    have = mh(A, B, C, scheduler="wrr")
    assert not plan(IpvsTable((mh(A, B, C, scheduler="wrr"),)), IpvsTable((have,)), [VIP])


def test_mh_canonical_kernel_list_is_left_alone():
    have = mh(C, B, A)  # the dump of a service built in canonical order
    assert not out_of_order(have, mh(A, B, C))
    assert not plan(IpvsTable((mh(B, A, C),)), IpvsTable((have,)), [VIP])


def test_mh_adopted_list_out_of_order_is_recreated_in_canonical_order():
    have = mh(A, B, C)  # e.g. built by an older version in config order, adopted on restart
    ops = plan(IpvsTable((mh(A, B, C),)), IpvsTable((have,)), [VIP])
    kinds = [op.kind for op in ops]
    assert kinds[:2] == [OpKind.DEL_SERVICE, OpKind.ADD_SERVICE]
    assert kernel_after(ops, [have]) == {VIP: [C.key, B.key, A.key]}


def test_mh_add_sorting_after_all_lands_at_the_head_without_recreate():
    ops = plan(IpvsTable((mh(A, B, D),)), IpvsTable((mh(B, A),)), [VIP])
    assert [op.kind for op in ops] == [OpKind.ADD_DEST]
    assert kernel_after(ops, [mh(B, A)]) == {VIP: kernel_list([A.key, B.key, D.key])}


def test_mh_add_that_would_land_mid_list_recreates():
    have = mh(C, A)
    ops = plan(IpvsTable((mh(A, B, C),)), IpvsTable((have,)), [VIP])
    assert OpKind.DEL_SERVICE in [op.kind for op in ops]
    assert kernel_after(ops, [have]) == {VIP: [C.key, B.key, A.key]}


def test_mh_weight_change_and_delete_keep_the_list():
    have = mh(C, B, A)
    ops = plan(IpvsTable((mh(replace(A, weight=0), C),)), IpvsTable((have,)), [VIP])
    assert {op.kind for op in ops} == {OpKind.SET_DEST, OpKind.DEL_DEST}


def _vs(algo, **kw):
    ip = ipaddress.ip_address
    return VirtualServer(protocol="TCP", address=ip("192.0.2.100"), port=80, lb_algo=algo,
                         lb_kind="DR", real_servers=tuple(
                             RealServer(address=ip(a), port=80, weight=3)
                             for a in ("198.51.100.11", "198.51.100.9")), **kw)


def _config(vs, bgp=True):
    scale_out = ScaleOut(vips=(ScaleOutVip(address=vs.address),)) if bgp else None
    return Config(source="test.yaml", global_settings=GlobalSettings(router_id="t"),
                  virtual_servers=(vs,), scale_out=scale_out)


def _down(vs):
    key = dest_key(vs.real_servers[0])
    return StaticHealth({(service_key(vs), key): RealServerHealth(False)})


def test_mh_dead_real_server_goes_to_weight_0_not_deleted_last_weight_kept():
    vs = _vs("mh")
    (svc,) = desired_table(_config(vs), _down(vs))
    assert {(d.address, d.weight) for d in svc.destinations} == {
        ("198.51.100.11", 0), ("198.51.100.9", 3)}


def test_mh_outside_scale_out_removes_a_dead_real_server_as_keepalived():
    # a VRRP-mode mh service (a keepalived config): deleted as keepalived does; weight 0
    # without mh-fallback would drop the dead server's flows instead of sending them on
    vs = _vs("mh")
    (svc,) = desired_table(_config(vs, bgp=False), _down(vs))
    assert [d.address for d in svc.destinations] == ["198.51.100.9"]


def test_other_schedulers_still_remove_a_dead_real_server_keepalived_default():
    vs = _vs("wrr")
    (svc,) = desired_table(_config(vs), _down(vs))
    assert [d.address for d in svc.destinations] == ["198.51.100.9"]
