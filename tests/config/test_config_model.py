"""Valid configs: defaults (keepalived's), shorthand forms, and the model's guarantees."""

from __future__ import annotations

import dataclasses
import ipaddress
import platform
import textwrap
from pathlib import Path

import pytest

from haipvs.config import (
    ConfigError,
    ConfigIssue,
    DnsCheck,
    GarpSettings,
    HttpGet,
    MiscCheck,
    SslGet,
    TcpCheck,
    UdpCheck,
    load_config,
    load_config_text,
    spec,
)

CONF = Path(__file__).resolve().parents[2] / "conf"

INSTANCE = """\
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    virtual_ipaddress: [192.0.2.100/24]
"""


def load(text: str, name: str = "test.yaml"):
    return load_config_text(textwrap.dedent(text), name)


def one_vs(body: str):
    text = "virtual_servers:\n" + textwrap.indent(textwrap.dedent(body), "  ")
    return load(text).virtual_servers[0]


def one_rs(checker: str, vs_extra: str = ""):
    body = f"""\
    - address: 192.0.2.100
      port: 80
    {vs_extra}
      real_servers:
        - address: 198.51.100.10
          port: 80
          {checker}
    """
    return one_vs(textwrap.dedent(body)).real_servers[0]


def test_issue_example_from_the_brief():
    text = """\
    global:
      router_id: lvs01
      state_dir: /run/haipvs
    vrrp_instances:
      - name: VI_1
        state: BACKUP
        interface: eth0
        virtual_router_id: 51
        priority: 150
        advert_int: 1
        version: 2
        preempt: true
        preempt_delay: 0
        authentication: {type: PASS, password: "1111"}
        unicast_src_ip: 192.0.2.1
        unicast_peers: [192.0.2.2]
        virtual_ipaddress:
          - 192.0.2.100/24
          - {address: 192.0.2.101/32, dev: eth0, label: "eth0:1"}
        garp: {master_delay: 5, master_repeat: 5, master_refresh: 0, lower_prio_repeat: 1}
    virtual_servers:
      - address: 192.0.2.100
        port: 80
        protocol: TCP
        lb_algo: wrr
        lb_kind: NAT
        persistence_timeout: 50
        delay_loop: 6
        real_servers:
          - address: 198.51.100.10
            port: 8080
            weight: 1
            tcp_check: {connect_timeout: 3, retry: 3, delay_before_retry: 1, connect_port: 8080}
          - address: 198.51.100.11
            port: 8080
            weight: 2
            http_get: {url: [{path: /health, status_code: 200}], connect_timeout: 3, retry: 2}
    """
    config = load(text)
    vi = config.vrrp_instances[0]
    assert (vi.name, vi.priority, vi.advert_int, vi.version, vi.family) == ("VI_1", 150, 1, 2, 4)
    assert vi.authentication.password == "1111"
    assert vi.unicast_src_ip == ipaddress.ip_address("192.0.2.1")
    assert vi.unicast_peers == (ipaddress.ip_address("192.0.2.2"),)
    assert vi.unicast
    assert vi.virtual_ipaddress[1].label == "eth0:1"
    vs = config.virtual_servers[0]
    assert (vs.lb_algo, vs.lb_kind, vs.persistence_timeout, vs.delay_loop) == ("wrr", "NAT", 50, 6)
    tcp = vs.real_servers[0].checkers[0]
    assert tcp == TcpCheck(connect_timeout=3, retry=3, delay_before_retry=1, connect_port=8080)
    http = vs.real_servers[1].checkers[0]
    assert isinstance(http, HttpGet)
    assert http.urls[0].status_code == ((200, 200),)
    assert (http.retry, http.delay_before_retry) == (2, 3.0)


def test_vrrp_defaults_follow_keepalived():
    vi = load(INSTANCE).vrrp_instances[0]
    assert vi.state == "BACKUP"
    assert vi.priority == 100
    assert vi.advert_int == 1.0
    assert vi.version == 2 and vi.family == 4
    assert vi.preempt is True and vi.preempt_delay == 0
    assert vi.authentication is None and not vi.unicast
    # keepalived vrrp.h VRRP_GARP_DELAY/REP/REFRESH/REFRESH_REP; lower_prio = the master ones
    # (vrrp.c vrrp_complete_init())
    assert vi.garp == GarpSettings(master_delay=5, master_repeat=5, master_refresh=0,
                                   master_refresh_repeat=1, lower_prio_repeat=5,
                                   lower_prio_delay=5)


def test_global_defaults():
    settings = load(INSTANCE).global_settings
    assert settings.router_id == (platform.node() or "haipvs")
    assert settings.state_dir == "/run/haipvs"
    assert settings.pid_file == "/run/haipvs/haipvs.pid"
    assert settings.lvs_timeouts is None and settings.lvs_sync_daemon is None


def test_global_timeouts_and_sync_daemon():
    global_section = """\
    global:
      router_id: lvs01
      lvs_timeouts: {tcp: 900, tcpfin: 120, udp: 300}
      lvs_sync_daemon: {interface: eth1, vrrp_instance: VI_1, sync_id: 5}
    """
    config = load(textwrap.dedent(global_section) + INSTANCE)
    assert config.global_settings.lvs_timeouts.tcp == 900
    assert config.global_settings.lvs_sync_daemon.sync_id == 5


def test_virtual_server_and_checker_defaults():
    vs = one_vs(
        """\
        - address: 192.0.2.100
          port: 80
          real_servers:
            - address: 198.51.100.10
              port: 80
              tcp_check: {}
        """
    )
    assert (vs.protocol, vs.lb_algo, vs.lb_kind, vs.delay_loop) == ("TCP", "wlc", "NAT", 60.0)
    assert vs.persistence_timeout is None and vs.ip_family == 4
    rs = vs.real_servers[0]
    assert rs.weight == 1
    assert rs.checkers == (TcpCheck(),)
    default = TcpCheck()
    assert (default.connect_timeout, default.retry, default.delay_before_retry) == (5, 1, 1)


@pytest.mark.parametrize("kind,cls", [("http_get", HttpGet), ("ssl_get", SslGet)])
def test_http_checks_default_to_3s_between_retries_and_2xx(kind, cls):
    rs = one_rs(f"{kind}: {{url: [{{path: /}}]}}")
    (check,) = rs.checkers
    assert isinstance(check, cls)
    assert check.delay_before_retry == 3.0
    assert check.urls[0].status_code == ((200, 299),)
    assert check.urls[0].status_ok(204) and not check.urls[0].status_ok(301)
    assert check.http_protocol == "1.0"


def test_status_code_forms_and_digest():
    rs = one_rs(
        """http_get:
            url:
              - {path: /a, status_code: 200}
              - {path: /b, status_code: "200-299"}
              - path: /c
                status_code: [200, 301, "500-503"]
                digest: 0123456789ABCDEF0123456789abcdef
              - {path: /d, regex: "ok|fine"}
            http_protocol: 1.1"""
    )
    urls = rs.checkers[0].urls
    assert [u.status_code for u in urls[:3]] == [
        ((200, 200),), ((200, 299),), ((200, 200), (301, 301), (500, 503)),
    ]
    assert urls[2].digest == "0123456789abcdef0123456789abcdef"
    assert urls[3].regex == "ok|fine"
    assert rs.checkers[0].http_protocol == "1.1"


def test_several_checkers_keep_file_order():
    rs = one_rs(
        """misc_check: {path: "/usr/lib/check --port 80 'two words'", misc_dynamic: true}
          tcp_check: [{connect_port: 80}, {connect_port: 81}]
          dns_check: {name: example.test, type: a}"""
    )
    misc, tcp80, tcp81, dns = rs.checkers
    argv = ("/usr/lib/check", "--port", "80", "two words")
    assert misc == MiscCheck(path=argv, misc_dynamic=True)
    assert (tcp80.connect_port, tcp81.connect_port) == (80, 81)
    assert dns == DnsCheck(type="A", name="example.test")


def test_misc_check_argv_list_and_udp_payloads():
    rs = one_rs('misc_check: {path: [/bin/check, "a b"], timeout: 2.5, user: "nobody:nogroup"}')
    assert rs.checkers[0].path == ("/bin/check", "a b")
    assert rs.checkers[0].timeout == 2.5
    udp = one_rs("udp_check: {payload_hex: 0a 0b ff, require_reply: true}").checkers[0]
    assert udp == UdpCheck(payload=b"\x0a\x0b\xff", require_reply=True)
    assert one_rs("udp_check: {payload: ping}").checkers[0].payload == b"ping"


def test_persistence_true_means_360_and_port_zero_means_all_ports():
    vs = one_vs(
        """\
        - address: 192.0.2.100
          persistence: true
          persistence_granularity: 255.255.255.0
          lb_kind: DR
          real_servers: [{address: 192.0.2.10}]
        """
    )
    assert vs.persistence_timeout == 360
    assert vs.port == 0
    assert vs.persistence_granularity == 24
    assert vs.real_servers[0].port is None
    assert vs.key == ("TCP", ipaddress.ip_address("192.0.2.100"), 0)


def test_fwmark_service():
    vs = one_vs(
        """\
        - fwmark: 7
          ip_family: 6
          lb_kind: dr
          lb_algo: SH
          sched_flags: [sh-port, sh-fallback]
          real_servers: [{address: "2001:db8::10"}, {address: "2001:db8::11", lb_kind: TUN}]
        """
    )
    assert (vs.fwmark, vs.ip_family, vs.port, vs.address) == (7, 6, None, None)
    assert vs.lb_kind == "DR" and vs.lb_algo == "sh"
    assert vs.sched_flags == frozenset({"sh-port", "sh-fallback"})
    assert vs.key == ("fwmark", 6, 7)
    assert [vs.effective_lb_kind(rs) for rs in vs.real_servers] == ["DR", "TUN"]


def test_tun_gue_and_mixed_family_only_with_tun():
    vs = one_vs(
        """\
        - address: 192.0.2.100
          port: 80
          lb_kind: TUN
          real_servers:
            - {address: "2001:db8::10", port: 80, tun_type: gue, tun_port: 6080, tun_flags: [csum]}
        """
    )
    rs = vs.real_servers[0]
    assert (rs.tun_type, rs.tun_port, rs.tun_flags) == ("gue", 6080, frozenset({"csum"}))


def test_sorry_server_and_inhibit():
    vs = one_vs(
        """\
        - address: 192.0.2.100
          port: 80
          inhibit_on_failure: true
          sorry_server: {address: 198.51.100.99, port: 8080}
          real_servers: [{address: 198.51.100.10, port: 80, inhibit_on_failure: false}]
        """
    )
    assert vs.inhibit_on_failure is True
    assert vs.sorry_server.port == 8080 and vs.sorry_server.weight == 1
    assert vs.real_servers[0].inhibit_on_failure is False


def test_vip_forms_ipv6_and_v3():
    vi = load(
        """\
        vrrp_instances:
          - name: VI_6
            interface: eth0
            virtual_router_id: 52
            advert_int: 0.25
            unicast_src_ip: 2001:db8::1
            unicast_peers: [2001:db8::2]
            unicast_min_ttl: 250
            unicast_max_ttl: 255
            virtual_ipaddress:
              - 2001:db8::100
              - {address: 2001:db8::101/64, dev: eth1}
        """
    ).vrrp_instances[0]
    assert vi.version == 3 and vi.family == 6
    assert vi.advert_int == 0.25
    assert vi.virtual_ipaddress[0].address == ipaddress.ip_interface("2001:db8::100/128")
    assert vi.virtual_ipaddress[1].dev == "eth1"
    assert (vi.unicast_min_ttl, vi.unicast_max_ttl) == (250, 255)


def test_bare_ipv4_vip_is_host_route_and_netmask_prefix_accepted():
    vi = load(INSTANCE.replace("[192.0.2.100/24]", "[192.0.2.100, 192.0.2.101/255.255.255.0]"))
    vips = vi.vrrp_instances[0].virtual_ipaddress
    assert str(vips[0].address) == "192.0.2.100/32"
    assert str(vips[1].address) == "192.0.2.101/24"


def test_string_fields_take_bare_numbers_as_written():
    vi = load(INSTANCE + "    authentication: {password: 0111}\n").vrrp_instances[0]
    assert vi.authentication.password == "0111"


def test_same_vrid_allowed_on_other_interface_or_family():
    more = """\
      - name: VI_2
        interface: eth1
        virtual_router_id: 51
        virtual_ipaddress: [192.0.2.101/24]
      - name: VI_3
        interface: eth0
        virtual_router_id: 51
        virtual_ipaddress: ["2001:db8::100/64"]
    """
    config = load(INSTANCE + textwrap.indent(textwrap.dedent(more), "  "))
    assert [i.virtual_router_id for i in config.vrrp_instances] == [51, 51, 51]


def test_anchors_aliases_and_merge_keys():
    vs = one_vs(
        """\
        - address: 192.0.2.100
          port: 80
          real_servers:
            - &web {address: 198.51.100.10, port: 80, weight: 3, tcp_check: {connect_timeout: 2}}
            - <<: *web
              address: 198.51.100.11
        """
    )
    first, second = vs.real_servers
    assert second.address == ipaddress.ip_address("198.51.100.11")
    assert (second.weight, second.port, second.checkers) == (3, 80, first.checkers)


def test_model_is_frozen_hashable_and_loads_compare_equal():
    first = load_config(CONF / "lvs01.yaml")
    second = load_config(CONF / "lvs01.yaml")
    assert first == second and hash(first) == hash(second)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.vrrp_instances[0].priority = 1  # type: ignore[misc]
    assert first.source == str(CONF / "lvs01.yaml")
    assert first.instance("VI_1").priority == 150
    assert load_config(CONF / "lvs02.yaml").instance("VI_1").priority == 100


def test_conf_examples_match_the_seed_scenarios():
    nat = load_config(CONF / "nat-lab.yaml").virtual_servers[0]
    assert (str(nat.address), nat.port) == ("192.168.4.5", 80)
    assert (nat.lb_algo, nat.lb_kind) == ("wrr", "NAT")
    assert [(str(rs.address), rs.weight) for rs in nat.real_servers] == [
        ("192.168.2.100", 1), ("192.168.2.200", 2),
    ]
    dr = load_config(CONF / "dr-lab.yaml")
    assert dr.vrrp_instances[0].virtual_ipaddress[0].label == "eth0:0"
    assert dr.virtual_servers[0].lb_kind == "DR"
    pair = load_config(CONF / "lvs01.yaml")
    vs = pair.virtual_servers[0]
    assert (vs.persistence_timeout, vs.delay_loop, vs.lb_kind) == (50, 6, "DR")
    assert vs.real_servers[0].checkers[0] == TcpCheck(
        connect_timeout=8, retry=3, delay_before_retry=3, connect_port=80
    )


def test_config_error_lists_every_issue_one_per_line():
    with pytest.raises(ConfigError) as caught:
        load(INSTANCE.replace("router_id: 51", "router_id: 0") + "    priority: 0\n")
    out_of_range = "0 is out of range 1..255"
    assert caught.value.issues == [
        ConfigIssue("test.yaml", 4, "vrrp_instances[0].virtual_router_id", out_of_range),
        ConfigIssue("test.yaml", 6, "vrrp_instances[0].priority", out_of_range),
    ]
    assert str(caught.value) == (
        "test.yaml:4: vrrp_instances[0].virtual_router_id: 0 is out of range 1..255\n"
        "test.yaml:6: vrrp_instances[0].priority: 0 is out of range 1..255"
    )


def test_unreadable_and_non_utf8_files(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "missing.yaml")
    assert str(caught.value).startswith(f"{tmp_path / 'missing.yaml'}: cannot read")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"global:\n  router_id: caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        load_config(bad)
    assert str(caught.value) == f"{bad}:2: file is not valid UTF-8"


def test_alias_bomb_is_bounded(monkeypatch):
    monkeypatch.setattr(spec, "ALIAS_REUSE_BUDGET", 1000)
    checks = "[" + ", ".join(["*c"] * 100) + "]"
    servers = "[" + ", ".join(["*rs"] * 100) + "]"
    text = (
        "anchors:\n"
        "  - &c {connect_timeout: 1}\n"
        f"  - &rs {{address: 198.51.100.10, port: 80, tcp_check: {checks}}}\n"
        f"virtual_servers: [{{address: 192.0.2.1, port: 80, real_servers: {servers}}}]\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(text)
    bombs = [i for i in caught.value.issues if "aliases expand to too many" in i.message]
    assert len(bombs) == 1
