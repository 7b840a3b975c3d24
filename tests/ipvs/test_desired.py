"""Config + health -> desired IPVS table."""

import ipaddress
from dataclasses import dataclass

from haipvs.config.model import (
    Config,
    GlobalSettings,
    LvsSyncDaemon,
    LvsTimeouts,
    RealServer,
    VirtualServer,
)
from haipvs.ipvs.desired import (
    RealServerHealth,
    StaticHealth,
    desired_sync_daemons,
    desired_table,
    desired_timeouts,
    dest_key,
    owned_keys,
    service_key,
)
from haipvs.ipvs.model import (
    AF_INET6,
    SVC_F_ONEPACKET,
    SVC_F_SH_FALLBACK,
    SVC_F_SH_PORT,
    TUN_FLAG_CSUM,
    TUN_FLAG_REMCSUM,
    Destination,
    ForwardMethod,
    ServiceKey,
    SyncDaemonConfig,
    SyncState,
    Timeouts,
    TunnelType,
)
from haipvs.vrrp.messages import State

ip = ipaddress.ip_address


def rs(address, port=8080, **kw):
    return RealServer(address=ip(address), port=port, **kw)


WEB = VirtualServer(protocol="TCP", address=ip("192.0.2.100"), port=80, lb_algo="wrr",
                    real_servers=(rs("198.51.100.10", weight=1), rs("198.51.100.11", weight=2)))
DNS = VirtualServer(protocol="UDP", address=ip("192.0.2.100"), port=53, lb_algo="sh",
                    lb_kind="DR", sched_flags=frozenset({"sh-port", "sh-fallback"}), ops=True,
                    persistence_timeout=50, persistence_granularity=24,
                    real_servers=(rs("198.51.100.20", 53),))
MARK = VirtualServer(fwmark=7, ip_family=6, lb_algo="lc", lb_kind="TUN", real_servers=(
    rs("2001:db8:1::40", None, tun_type="gue", tun_port=6080,
       tun_flags=frozenset({"csum", "remcsum"}), u_threshold=100, l_threshold=10),
    rs("2001:db8:1::41", None, lb_kind="DR"),
))


def config(*vss, **gs):
    return Config(source="test.yaml", global_settings=GlobalSettings(router_id="t", **gs),
                  virtual_servers=vss)


def test_all_up_maps_every_field():
    table = desired_table(config(WEB, DNS, MARK))
    web = table.get(ServiceKey.inet("tcp", "192.0.2.100", 80))
    assert web.scheduler == "wrr" and web.persistence_timeout is None and web.netmask == 32
    assert [(d.address, d.port, d.fwd, d.weight) for d in web.destinations] == [
        ("198.51.100.10", 8080, ForwardMethod.NAT, 1),
        ("198.51.100.11", 8080, ForwardMethod.NAT, 2),
    ]
    dns = table.get(ServiceKey.inet("udp", "192.0.2.100", 53))
    assert dns.flags == SVC_F_SH_PORT | SVC_F_SH_FALLBACK | SVC_F_ONEPACKET
    assert (dns.persistence_timeout, dns.netmask) == (50, 24)
    assert dns.destinations[0].fwd == ForwardMethod.DR
    mark = table.get(ServiceKey.mark(7, AF_INET6))
    assert mark.netmask == 128
    assert mark.destinations == (
        Destination("2001:db8:1::40", 0, ForwardMethod.TUN, 1, 100, 10, TunnelType.GUE, 6080,
                    TUN_FLAG_CSUM | TUN_FLAG_REMCSUM),
        Destination("2001:db8:1::41", 0, ForwardMethod.DR, 1),
    )


def test_down_servers_are_removed_and_dynamic_weights_applied():
    key = service_key(WEB)
    health = StaticHealth({
        (key, dest_key(WEB.real_servers[0])): RealServerHealth(False, reason="refused"),
        (key, dest_key(WEB.real_servers[1])): RealServerHealth(True, weight=9),
    })
    web = desired_table(config(WEB), health).get(key)
    assert [(d.address, d.weight) for d in web.destinations] == [("198.51.100.11", 9)]


@dataclass(frozen=True)
class VirtualServerWithOptions(VirtualServer):
    """The config options keepalived has and the config model may add later."""

    inhibit_on_failure: bool = False
    sorry_server: RealServer | None = None


def test_inhibit_on_failure_keeps_the_server_with_weight_zero():
    vs = VirtualServerWithOptions(**{**WEB.__dict__, "inhibit_on_failure": True})
    key = service_key(vs)
    health = StaticHealth({(key, dest_key(vs.real_servers[0])): RealServerHealth(False)})
    web = desired_table(config(vs), health).get(key)
    assert [(d.address, d.weight) for d in web.destinations] == [
        ("198.51.100.10", 0), ("198.51.100.11", 2)]


def test_sorry_server_stands_in_only_while_nothing_is_up():
    vs = VirtualServerWithOptions(**{**WEB.__dict__,
                                     "sorry_server": rs("198.51.100.99", 8080)})
    key = service_key(vs)
    assert "198.51.100.99" not in {
        d.address for d in desired_table(config(vs)).get(key).destinations}
    all_down = StaticHealth({(key, dest_key(r)): RealServerHealth(False)
                             for r in vs.real_servers})
    web = desired_table(config(vs), all_down).get(key)
    assert [(d.address, d.weight) for d in web.destinations] == [("198.51.100.99", 1)]


def test_owned_keys_timeouts_and_sync_daemon():
    assert owned_keys([config(WEB), config(DNS)]) == {service_key(WEB), service_key(DNS)}
    cfg = config(WEB, lvs_timeouts=LvsTimeouts(tcp=100, udp=30),
                 lvs_sync_daemon=LvsSyncDaemon("eth1", "VI_1", 5))
    assert desired_timeouts(cfg) == Timeouts(100, 0, 30)
    assert desired_timeouts(config(WEB)) is None
    assert desired_sync_daemons(cfg, {"VI_1": State.MASTER}) == (
        SyncDaemonConfig(SyncState.MASTER, "eth1", 5),)
    assert desired_sync_daemons(cfg, {"VI_1": State.BACKUP}) == (
        SyncDaemonConfig(SyncState.BACKUP, "eth1", 5),)
    assert desired_sync_daemons(config(WEB), {}) is None
