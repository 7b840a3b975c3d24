"""`haipvs import-keepalived` for accept / no_accept, strict mode and the nftables keywords
(keepalived 2.2.7 vrrp_parser.c, global_parser.c; vrrp.c vrrp_complete_instance() for what
strict mode clears). The result must pass `haipvs check` and mean what keepalived runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

from haipvs.config import load_config_text
from haipvs.importer import import_keepalived
from haipvs.vrrp_binding import bindings_from_config


def translate(tmp_path: Path, text: str):
    path = tmp_path / "keepalived.conf"
    path.write_text(textwrap.dedent(text))
    result = import_keepalived(path)
    return result, load_config_text(result.yaml, "out.yaml")


INSTANCE = """
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
{body}
    virtual_ipaddress {{
        {vip}
    }}
}}
"""


def instance(body: str = "", vip: str = "192.0.2.10") -> str:
    return INSTANCE.format(body=textwrap.indent(textwrap.dedent(body), "    "), vip=vip)


def test_accept_and_no_accept_translate_to_accept(tmp_path):
    _, config = translate(tmp_path, instance("no_accept\n"))
    assert config.vrrp_instances[0].accept is False
    _, config = translate(tmp_path, instance("accept\n"))
    assert config.vrrp_instances[0].accept is True
    _, config = translate(tmp_path, instance())
    assert config.vrrp_instances[0].accept is None  # keepalived's default: derived


def test_strict_mode_argument_forms(tmp_path):
    # vrrp_parser.c vrrp_strict_mode_handler(): no argument = on; on|off|true|false|yes|no
    for word, expected in (("", True), ("on", True), ("yes", True), ("off", False),
                           ("false", False)):
        _, config = translate(tmp_path, instance(f"strict_mode {word}\n"))
        assert config.vrrp_instances[0].strict_mode is expected, word
    result, config = translate(tmp_path, instance("strict_mode maybe\n"))
    assert config.vrrp_instances[0].strict_mode is None
    assert any("invalid strict_mode" in str(n) for n in result.notes)


def test_vrrp_strict_and_nftables_globals(tmp_path):
    conf = ("global_defs {\n    vrrp_strict\n    nftables ka_t\n    nftables_priority -5\n"
            "    nftables_counters\n    nftables_ifindex\n}\n" + instance())
    result, config = translate(tmp_path, conf)
    g = config.global_settings
    assert (g.vrrp_strict, g.nftables, g.nftables_priority, g.nftables_counters) == (
        True, "ka_t", -5, True)
    assert [n.keyword for n in result.notes] == ["nftables_ifindex"]
    assert bindings_from_config(config)[0].accept is False  # strict: no_accept by default


def test_strict_mode_clears_what_keepalived_clears_with_a_note_each(tmp_path):
    conf = "global_defs {\n    vrrp_strict\n}\n" + instance("""\
        state MASTER
        priority 100
        accept
        garp_lower_prio_repeat 3
        authentication {
            auth_type PASS
            auth_pass 1111
        }
        """)
    result, config = translate(tmp_path, conf)
    vi = config.vrrp_instances[0]
    assert (vi.state, vi.accept, vi.authentication) == ("BACKUP", None, None)
    changed = {n.keyword for n in result.notes}
    assert {"state", "accept", "authentication", "garp_lower_prio_repeat"} <= changed
    assert bindings_from_config(config)[0].params.garp.lower_prio_repeat == 0


def test_strict_mode_with_unicast_peers_leaves_the_instance_out(tmp_path):
    conf = instance("""\
        strict_mode
        unicast_src_ip 192.0.2.1
        unicast_peer {
            192.0.2.2
        }
        """) + instance(vip="192.0.2.11").replace("VI_1", "VI_2").replace(" 51", " 52")
    result, config = translate(tmp_path, conf)
    assert [i.name for i in config.vrrp_instances] == ["VI_2"]
    assert any("Unicast peers are not supported in strict mode" in str(n) for n in result.notes)


def test_strict_ipv6_first_vip_not_link_local_runs_without_strict_mode(tmp_path):
    # keepalived only logs "the first IPv6 VIP address must be link local"; haipvs refuses it
    _, config = translate(tmp_path, instance("strict_mode\n", vip="2001:db8::10"))
    vi = config.vrrp_instances[0]
    assert (vi.strict_mode, vi.accept) == (False, False)
