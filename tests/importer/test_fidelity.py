"""The importer programs what keepalived 2.2.7 would program (issue 14), and each place where
that differs from what the file seems to say, or from what haipvs can do, is a note on its
line. Each probe is a small keepalived.conf; the keepalived source the rule comes from is
named in the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from haipvs.config import ConfigError, load_config_text
from haipvs.importer import import_keepalived
from haipvs.importer.notes import CHANGED, NOT_TRANSLATED

VIP_INSTANCE = """vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
{body}
}}
"""


def run(tmp_path: Path, text: str, name: str = "keepalived.conf"):
    path = tmp_path / name
    path.write_text(text)
    result = import_keepalived(path, display=name)
    return load_config_text(result.yaml, "imported.yaml"), result


def notes_at(result, line: int) -> list:
    return [n for n in result.notes if n.line == line]


def vs(body: str, head: str = "192.0.2.1 80", protocol: str = "protocol TCP") -> str:
    return f"virtual_server {head} {{\n    {protocol}\n{body}}}\n"


# ---- rejected outputs ----------------------------------------------------------------------

def test_duplicate_vip_in_one_instance_keeps_the_first(tmp_path: Path):
    config, result = run(tmp_path, VIP_INSTANCE.format(body=(
        "    virtual_ipaddress {\n        192.0.2.10/24\n        192.0.2.10/24 dev eth0\n"
        "    }")))
    assert [str(v.address) for v in config.vrrp_instances[0].virtual_ipaddress] == [
        "192.0.2.10/24"]
    (note,) = notes_at(result, 6)
    assert note.kind == NOT_TRANSLATED and "keepalived ignores the second copy" in note.why


def test_sorry_server_without_port_takes_the_service_port(tmp_path: Path):
    """check_data.c validate_check_config() / ipvswrapper.c: the service's port."""
    config, _ = run(tmp_path, vs("    sorry_server 192.0.2.99\n"
                                 "    real_server 192.0.2.2 80 {\n    }\n"))
    assert config.virtual_servers[0].sorry_server.port == 80


def test_dr_sorry_server_with_another_port_gets_the_service_port(tmp_path: Path):
    """ipvswrapper.c ipvs_cmd(): a non-NAT destination gets the service's port."""
    config, result = run(tmp_path, vs("    lb_kind DR\n    sorry_server 192.0.2.99 3306\n"
                                      "    real_server 192.0.2.2 80 {\n    }\n"))
    assert config.virtual_servers[0].sorry_server.port == 80
    assert [n.kind for n in notes_at(result, 4)] == [CHANGED]


def test_ipv6_persistence_granularity_is_a_prefix_length(tmp_path: Path):
    """check_parser.c pgr_handler(): IPv6 takes 1..128 (read_unsigned_strvec)."""
    config, _ = run(tmp_path, vs("    persistence_timeout 60\n"
                                 "    persistence_granularity 110\n"
                                 "    real_server 2001:db8::2 80 {\n    }\n",
                                 head="2001:db8::1 80"))
    assert config.virtual_servers[0].persistence_granularity == 110


def test_ipv4_persistence_granularity_stays_a_netmask(tmp_path: Path):
    config, _ = run(tmp_path, vs("    persistence_timeout 60\n"
                                 "    persistence_granularity 255.255.255.0\n"
                                 "    real_server 192.0.2.2 80 {\n    }\n"))
    assert config.virtual_servers[0].persistence_granularity == 24


def test_vrrp_script_defined_twice_keeps_the_first(tmp_path: Path):
    """vrrp_parser.c alloc_vrrp_script() appends both; track_script finds the first."""
    config, result = run(tmp_path, (
        "vrrp_script chk {\n    script /bin/true\n}\n"
        "vrrp_script chk {\n    script /bin/false\n}\n"
        + VIP_INSTANCE.format(body="    virtual_ipaddress {\n        192.0.2.10\n    }\n"
                              "    track_script {\n        chk\n    }")))
    assert [s.script for s in config.vrrp_scripts] == [("/bin/true",)]
    assert [n.kind for n in notes_at(result, 4)] == [NOT_TRANSLATED]


def test_vip_shared_by_two_instances_stays_with_the_first(tmp_path: Path):
    """haipvs gives a VIP one owner (its config refuses a VIP in two instances); keepalived
    runs both, each adding and removing it."""
    second = VIP_INSTANCE.replace("VI_1", "VI_2").replace("51", "52")
    config, result = run(tmp_path, (
        VIP_INSTANCE.format(body="    virtual_ipaddress {\n        192.0.2.10\n    }")
        + second.format(body="    virtual_ipaddress {\n        192.0.2.10\n"
                        "        192.0.2.11\n    }")))
    first, other = config.vrrp_instances
    assert [str(v.address.ip) for v in other.virtual_ipaddress] == ["192.0.2.11"]
    assert [str(v.address.ip) for v in first.virtual_ipaddress] == ["192.0.2.10"]
    (note,) = notes_at(result, 12)
    assert "also a VIP of vrrp_instance 'VI_1'" in note.why


def test_second_vrrp_instance_of_the_same_name_is_skipped(tmp_path: Path):
    """vrrp_parser.c vrrp_handler(): "vrrp instance %s already defined", skip_block()."""
    body = "    virtual_ipaddress {\n        192.0.2.10\n    }"
    config, result = run(tmp_path, VIP_INSTANCE.format(body=body) * 2)
    assert len(config.vrrp_instances) == 1
    assert [n.kind for n in notes_at(result, 8)] == [NOT_TRANSLATED]


# ---- silent differences --------------------------------------------------------------------

def test_the_first_lvs_sync_daemon_wins(tmp_path: Path):
    """global_parser.c lvs_syncd_handler(): "already been specified ... - ignoring"."""
    second = VIP_INSTANCE.replace("VI_1", "VI_2").replace("51", "52")
    config, result = run(tmp_path, (
        "global_defs {\n    lvs_sync_daemon eth0 VI_1\n    lvs_sync_daemon eth0 VI_2\n}\n"
        + VIP_INSTANCE.format(body="    virtual_ipaddress {\n        192.0.2.10\n    }")
        + second.format(body="    virtual_ipaddress {\n        192.0.2.11\n    }")))
    assert result.document["global"]["lvs_sync_daemon"]["vrrp_instance"] == "VI_1"
    assert config.vrrp_instances
    assert [n.kind for n in notes_at(result, 3)] == [NOT_TRANSLATED]


@pytest.mark.parametrize("checker", ["TCP_CHECK", "MISC_CHECK"])
def test_nb_get_retry_outside_http_checks_is_ignored(tmp_path: Path, checker: str):
    """keepalived 2.2.7 installs nb_get_retry only in check_http.c; elsewhere it is an
    unknown keyword and the checker keeps its default retry."""
    extra = "        misc_path /bin/true\n" if checker == "MISC_CHECK" else ""
    config, result = run(tmp_path, vs(f"    real_server 192.0.2.2 80 {{\n    {checker} {{\n"
                                      f"{extra}        nb_get_retry 3\n    }}\n    }}\n"))
    (checked,) = config.virtual_servers[0].real_servers[0].checkers
    assert checked.retry != 3
    assert [n.keyword for n in result.notes] == ["nb_get_retry"]


def test_nb_get_retry_in_http_get_is_retry(tmp_path: Path):
    config, result = run(tmp_path, vs("    real_server 192.0.2.2 80 {\n    HTTP_GET {\n"
                                      "        url {\n            path /\n        }\n"
                                      "        nb_get_retry 3\n    }\n    }\n"))
    assert config.virtual_servers[0].real_servers[0].checkers[0].retry == 3
    assert not result.notes


def test_regex_no_match_is_kept(tmp_path: Path):
    """check_http.c regex_no_match: up when the regex does NOT match; haipvs has the same
    key (haipvs/policy/http_regex.py), so the url keeps its regex and its negation."""
    config, result = run(tmp_path, vs(
        "    real_server 192.0.2.2 80 {\n    HTTP_GET {\n        url {\n"
        "            path /\n            regex \"error\"\n            regex_no_match\n"
        "        }\n    }\n    }\n"))
    (url,) = config.virtual_servers[0].real_servers[0].checkers[0].urls
    assert (url.regex, url.regex_no_match) == ("error", True)
    assert not notes_at(result, 8)


# ---- lost or mangled text ------------------------------------------------------------------

def test_unknown_braced_variable_splits_like_keepalived(tmp_path: Path):
    """replace_param() leaves an undefined `${X}` alone; read_line() then splits the line at
    its braces, so keepalived reads `router_id $` followed by a block (lib/parser.c)."""
    _, result = run(tmp_path, "global_defs {\n    router_id ${NOPE}x\n}\n" + VIP_INSTANCE.format(
        body="    virtual_ipaddress {\n        192.0.2.10\n    }"))
    assert result.document["global"]["router_id"] == "$"
    (note, *_) = result.notes
    assert note.keyword == "$NOPE" and "braces" in note.why


def test_only_spaces_and_tabs_separate_words(tmp_path: Path):
    """lib/parser.c alloc_strvec_r() splits at WHITE_SPACE (space, tab): a line indented
    with non-breaking spaces starts with an unknown keyword, and is lost."""
    config, result = run(tmp_path, vs("    real_server 192.0.2.2 80 {\n    TCP_CHECK {\n"
                                      "\u00a0\u00a0connect_timeout 10\n    }\n    }\n"))
    assert config.virtual_servers[0].real_servers[0].checkers[0].connect_timeout != 10
    assert [n.line for n in result.notes] == [5]


def test_builtin_definitions(tmp_path: Path):
    """lib/parser.c set_std_definitions(): _PWD (getcwd() in the file's directory),
    _INSTANCE (the config id), _RANDOM [min max], _HASH, _BANG."""
    text = ("global_defs {\n    router_id ${_INSTANCE}${_HASH}${_BANG}\n}\n"
            "vrrp_script chk {\n    script \"${_PWD}/chk.sh ${_RANDOM 5 9}\"\n}\n"
            + VIP_INSTANCE.format(body="    virtual_ipaddress {\n        192.0.2.10\n    }"))
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    result = import_keepalived(path, config_id="lvs01", display="keepalived.conf")
    assert result.document["global"]["router_id"] == "lvs01#!"
    assert result.document["vrrp_scripts"][0]["script"] == [
        f"{tmp_path.resolve()}/chk.sh", "5"]
    assert {n.keyword for n in result.notes} == {"${_PWD}", "${_RANDOM}"}
    assert all(n.kind == CHANGED for n in result.notes)


def test_dollar_name_needs_a_delimiter(tmp_path: Path):
    """find_definition(): `$NAME` ends at a space, tab, ',', ')' or the end of the line;
    `$VIP/24` is left as written (use `${VIP}/24`)."""
    _, result = run(tmp_path, "$VIP=192.0.2.10\n" + VIP_INSTANCE.format(
        body="    virtual_ipaddress {\n        ${VIP}/24\n        $VIP/25\n    }"))
    assert result.document["vrrp_instances"][0]["virtual_ipaddress"] == ["192.0.2.10/24"]


# ---- gaps ----------------------------------------------------------------------------------

def test_fwmark_nat_real_server_without_port_gets_port_0(tmp_path: Path):
    """IPVS keeps the packet's destination port for a destination port of 0 (keepalived's
    doc/samples/keepalived.conf.fwmark does this)."""
    config, result = run(tmp_path, vs("    lb_kind NAT\n    real_server 192.0.2.2 {\n    }\n",
                                      head="fwmark 7", protocol="delay_loop 5"))
    assert config.virtual_servers[0].real_servers[0].port == 0
    assert not result.notes


def test_virtual_ipaddress_excluded_is_translated_and_stays_out_of_the_advert(tmp_path: Path):
    config, result = run(tmp_path, VIP_INSTANCE.format(body=(
        "    virtual_ipaddress {\n        192.0.2.10\n    }\n"
        "    virtual_ipaddress_excluded {\n        192.0.2.20\n    }")))
    assert not result.notes
    (instance,) = config.vrrp_instances
    assert [str(v.address) for v in instance.virtual_ipaddress] == ["192.0.2.10/32"]
    assert [str(v.address) for v in instance.virtual_ipaddress_excluded] == ["192.0.2.20/32"]


# ---- table differences (keepalived as the oracle) ------------------------------------------

def test_quorum_above_the_total_weight_is_lowered(tmp_path: Path):
    """check_data.c validate_check_config(): "exceeds total weight of real servers ...,
    reducing quorum", then hysteresis >= quorum -> quorum - 1."""
    config, result = run(tmp_path, vs("    quorum 10\n    hysteresis 7\n"
                                      "    real_server 192.0.2.2 80 {\n        weight 3\n    }\n"
                                      "    real_server 192.0.2.3 80 {\n        weight 2\n    }\n"))
    service = config.virtual_servers[0]
    assert (service.quorum, service.hysteresis) == (5, 4)
    assert [n.keyword for n in result.notes] == ["quorum", "hysteresis"]


def test_haipvs_refuses_a_quorum_above_the_total_weight():
    text = ("virtual_servers:\n  - address: 192.0.2.1\n    port: 80\n    quorum: 10\n"
            "    real_servers:\n      - {address: 192.0.2.2, port: 80, weight: 5}\n")
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "lvs.yaml")
    assert "quorum 10 exceeds the total weight of the real servers (5)" in str(caught.value)


def test_virtual_server_without_protocol_is_udp(tmp_path: Path):
    """check_data.c validate_check_config(): "no protocol set - defaulting to UDP"."""
    config, result = run(tmp_path, vs("    real_server 192.0.2.2 80 {\n    }\n", protocol=""))
    assert config.virtual_servers[0].protocol == "UDP"
    (note,) = notes_at(result, 1)
    assert note.kind == CHANGED and "UDP" in note.why


@pytest.mark.parametrize(("line", "field", "expected"), [
    ("lb_kind dr", "lb_kind", "NAT"),     # check_parser.c svr_forwarding_handler(): strcmp
    ("lb_algo RR", "lb_algo", "wlc"),     # check_parser.c lbalgo_handler(): strcmp
])
def test_wrong_case_is_ignored_as_keepalived_does(tmp_path: Path, line: str, field: str,
                                                  expected: str):
    config, result = run(tmp_path, vs(f"    {line}\n    real_server 192.0.2.2 80 {{\n    }}\n"))
    assert getattr(config.virtual_servers[0], field) == expected
    (note,) = notes_at(result, 3)
    assert note.kind == NOT_TRANSLATED
    assert "upper case" in note.why or "lower case" in note.why


def test_dr_real_server_of_a_fwmark_service_loses_its_port(tmp_path: Path):
    """check_data.c validate_check_config(): "has port specified - clearing"."""
    config, result = run(tmp_path, vs("    lb_kind DR\n    real_server 192.0.2.2 80 {\n"
                                      "        TCP_CHECK {\n        }\n    }\n",
                                      head="fwmark 7", protocol="delay_loop 5"))
    rs = config.virtual_servers[0].real_servers[0]
    assert rs.port is None and rs.checkers[0].connect_port == 80
    assert [n.kind for n in notes_at(result, 4)] == [CHANGED]


def test_misspelt_checker_block_ends_the_real_server(tmp_path: Path):
    """lib/parser.c process_stream(): an unknown keyword's '{' is ignored and its '}' closes
    the enclosing level; the rest of the virtual_server is read at top level."""
    config, result = run(tmp_path, vs(
        "    real_server 192.0.2.2 80 {\n"        # 3
        "        SMTP_CHEKC {\n"                  # 4
        "        }\n"
        "        TCP_CHECK {\n"                   # 6: read as a virtual_server keyword
        "            connect_timeout 3\n"         # 7: a virtual_server checker default
        "        }\n"                             # 8: ends the virtual_server
        "    }\n"
        "    real_server 192.0.2.3 80 {\n"        # 10: lost
        "    }\n"))
    (service,) = config.virtual_servers
    assert [str(r.address) for r in service.real_servers] == ["192.0.2.2"]
    assert service.real_servers[0].checkers == ()
    assert {n.line for n in result.notes} == {4, 6, 10}


def test_granularity_without_timeout_is_persistent(tmp_path: Path):
    """check_parser.c pgr_handler(): sets IPVS_SVC_PERSISTENT_TIMEOUT (360 s)."""
    config, result = run(tmp_path, vs("    persistence_granularity 255.255.255.0\n"
                                      "    real_server 192.0.2.2 80 {\n    }\n"))
    assert config.virtual_servers[0].persistence_timeout == 360
    assert [n.kind for n in notes_at(result, 3)] == [CHANGED]


def test_port_0_without_persistence_is_persistent(tmp_path: Path):
    """check_data.c validate_check_config(): "zero port only valid for persistent services -
    setting"."""
    config, result = run(tmp_path, vs("    real_server 192.0.2.2 80 {\n    }\n",
                                      head="192.0.2.1 0"))
    assert config.virtual_servers[0].persistence_timeout == 360
    assert [n.kind for n in notes_at(result, 1)] == [CHANGED]


def test_virtual_server_without_real_servers_is_dropped(tmp_path: Path):
    """check_data.c validate_check_config(): "has no real servers - ignoring"."""
    _, result = run(tmp_path, VIP_INSTANCE.format(
        body="    virtual_ipaddress {\n        192.0.2.10\n    }") + vs(""))
    assert "virtual_servers" not in result.document
    assert [n.line for n in result.notes] == [8]


@pytest.mark.parametrize(("keyword", "words"), [  # sorry_server_inhibit: test_sorry_inhibit.py
    ("persistence_engine sip", "without persistence"),
    ("persistence_engine h323", "no persistence engine 'h323'"),
])
def test_sorry_server_inhibit_and_persistence_engine_notes(tmp_path: Path, keyword: str,
                                                           words: str):
    _, result = run(tmp_path, vs(f"    sorry_server 192.0.2.9 80\n    {keyword}\n"
                                 "    real_server 192.0.2.2 80 {\n    }\n"))
    (note,) = result.notes
    assert note.line == 4 and words in note.why


def test_ah_master_starts_as_backup(tmp_path: Path):
    """vrrp.c vrrp_complete_instance(): "Initial state master is incompatible with AH
    authentication - clearing"."""
    config, result = run(tmp_path, VIP_INSTANCE.format(body=(
        "    priority 100\n    state MASTER\n    authentication {\n        auth_type AH\n"
        "        auth_pass secret\n    }\n    virtual_ipaddress {\n        192.0.2.10\n    }")))
    assert config.vrrp_instances[0].state == "BACKUP"
    assert [n.kind for n in notes_at(result, 5)] == [CHANGED]


def test_nothing_translatable_is_still_a_file_check_accepts(tmp_path: Path):
    """check_data.c alloc_vs(): "Invalid virtual server IP address ... - skipping";
    keepalived then runs with nothing configured, and the output is an empty mapping."""
    config, result = run(tmp_path, vs("    real_server 192.0.2.2 80 {\n    }\n",
                                      head="XX.XX.XX.1 80"))
    assert not config.virtual_servers and not config.vrrp_instances
    assert result.yaml.rstrip().endswith("{}")


def test_authentication_in_an_ipv6_instance_is_dropped(tmp_path: Path):
    """IPv6 VRRP is version 3, which has no authentication (vrrp.c
    vrrp_complete_instance(): "VRRP version 3 does not support authentication. Ignoring.")."""
    config, result = run(tmp_path, VIP_INSTANCE.format(body=(
        "    authentication {\n        auth_type PASS\n        auth_pass secret\n    }\n"
        "    virtual_ipaddress {\n        2001:db8::10/64\n    }")))
    assert config.vrrp_instances[0].authentication is None
    assert [n.line for n in result.notes] == [4]


def test_default_quorum_with_every_weight_0_is_noted(tmp_path: Path):
    """keepalived lowers even its default quorum 1 to a total weight of 0, and then never
    loses quorum; haipvs' lowest quorum is 1, so the difference is a note on the service."""
    config, result = run(tmp_path, vs("    real_server 192.0.2.2 80 {\n        weight 0\n"
                                      "    }\n"))
    assert config.virtual_servers[0].quorum == 1
    (note,) = notes_at(result, 1)
    assert note.kind == CHANGED and "lowers it to 0" in note.why


def test_checker_defaults_are_keepalived_s(tmp_path: Path):
    """check_misc.c: MISC_CHECK default retry 0; check_dns.c: DNS_CHECK retry 3 and
    delay_before_retry = delay_loop (check_data.c validate_check_config())."""
    config, result = run(tmp_path, vs(
        "    delay_loop 7\n    real_server 192.0.2.2 53 {\n"
        "    MISC_CHECK {\n        misc_path /bin/true\n    }\n"
        "    DNS_CHECK {\n        name example.com\n    }\n    }\n", head="192.0.2.1 53"))
    misc, dns = config.virtual_servers[0].real_servers[0].checkers
    assert (misc.kind, misc.retry) == ("misc_check", 0)
    assert (dns.kind, dns.retry, dns.delay_before_retry) == ("dns_check", 3, 7)
    assert not result.notes


def test_misspelt_block_ends_the_vrrp_instance(tmp_path: Path):
    """The same parser rule in a vrrp_instance: `virtual_ipadress {` (misspelt) is unknown,
    its addresses are read as instance keywords, and its '}' ends the instance; `priority`
    after it is read at top level and lost."""
    _, result = run(tmp_path, (
        "vrrp_instance VI_1 {\n"            # 1
        "    interface eth0\n"
        "    virtual_router_id 51\n"
        "    virtual_ipaddress {\n"         # 4
        "        192.0.2.10\n"
        "    }\n"
        "    virtual_ipadress {\n"          # 7
        "        192.0.2.11\n"              # 8: an unknown instance keyword
        "    }\n"
        "    priority 150\n"                # 10: lost
        "}\n"))
    (instance,) = result.document["vrrp_instances"]
    assert "priority" not in instance
    assert instance["virtual_ipaddress"] == ["192.0.2.10"]
    assert {n.line for n in result.notes} == {7, 8, 10}


def test_notify_fifo_keys(tmp_path: Path):
    """global_parser.c notify_fifo()/notify_fifo_script(): the first of each is kept; the
    script's user is kept (notify_script_init); a script without its FIFO is never run."""
    config, result = run(tmp_path, (
        "global_defs {\n"
        "    notify_fifo /run/a.fifo\n"                        # 2
        "    notify_fifo /run/b.fifo\n"                        # 3: ignored
        "    notify_fifo_script \"/bin/rd.sh -v\" nobody\n"    # 4: its own user
        "    vrrp_notify_fifo /run/v.fifo\n"
        "    lvs_notify_fifo_script /bin/lvs.sh\n"             # 6: no lvs_notify_fifo
        "}\n" + VIP_INSTANCE.format(body="    virtual_ipaddress {\n        192.0.2.10\n    }")))
    assert result.document["global"] == {
        "notify_fifo": "/run/a.fifo",
        "notify_fifo_script": {"command": ["/bin/rd.sh", "-v"], "user": "nobody"},
        "vrrp_notify_fifo": "/run/v.fifo"}
    assert config.vrrp_instances
    assert [n.line for n in result.notes] == [3, 6]


def test_notify_fifo_owner_is_kept_and_an_unknown_owner_drops_the_fifo(tmp_path: Path):
    """global_parser.c notify_fifo(): `FIFO USER [GROUP]` is the owner a FIFO keepalived
    makes is given (lib/notify.c fifo_open chown); with an owner unknown on this host
    keepalived ignores the whole line ("Invalid user/group for fifo - ignoring"), so a later
    line may still set that FIFO."""
    config, result = run(tmp_path, (
        "global_defs {\n"
        "    notify_fifo /run/a.fifo nobody nogroup\n"               # 2: owner kept
        "    vrrp_notify_fifo /run/v.fifo haipvs-no-such-user\n"     # 3: ignored
        "    vrrp_notify_fifo /run/w.fifo nobody\n"                  # 4: kept
        "    lvs_notify_fifo /run/l.fifo root haipvs-no-such-group\n"  # 5: ignored
        "}\n" + VIP_INSTANCE.format(body="    virtual_ipaddress {\n        192.0.2.10\n    }")))
    assert result.document["global"] == {
        "notify_fifo": "/run/a.fifo", "notify_fifo_owner": "nobody:nogroup",
        "vrrp_notify_fifo": "/run/w.fifo", "vrrp_notify_fifo_owner": "nobody"}
    assert config.global_settings.notify_fifo_owner == "nobody:nogroup"
    assert [n.line for n in result.notes] == [3, 5]
    assert "user 'haipvs-no-such-user' does not exist" in result.notes[0].why
    assert "group 'haipvs-no-such-group' does not exist" in result.notes[1].why


def test_real_server_method_is_lvs_method_and_vs_weight_is_their_default(tmp_path: Path):
    """check_parser.c: a real_server takes `lvs_method` only (`lb_kind` there is "Unknown
    keyword"); a virtual_server's `weight` is the weight of its real servers that give none
    (vs_weight_handler(), check_data.c validate_check_config())."""
    config, result = run(tmp_path, vs("    lb_kind DR\n    weight 4\n"
                                      "    real_server 192.0.2.2 80 {\n        lb_kind NAT\n"
                                      "    }\n    real_server 192.0.2.3 80 {\n"
                                      "        lvs_method TUN\n        weight 2\n    }\n"))
    first, second = config.virtual_servers[0].real_servers
    assert (first.lb_kind, first.weight) == (None, 4)
    assert (second.lb_kind, second.weight) == ("TUN", 2)
    assert [n.line for n in result.notes] == [6]


@pytest.mark.parametrize(("settings", "line"), [
    ("    state MASTER\n    priority 100\n    nopreempt", 6),
    ("    state MASTER\n    priority 100\n    preempt_delay 10", 6),
    ("    priority 255\n    nopreempt", 5),
])
def test_preempt_settings_keepalived_clears(tmp_path: Path, settings: str, line: int):
    """vrrp.c vrrp_complete_instance(): "nopreempt will not work with initial state MASTER
    - clearing" (preempt_delay too), and nopreempt "is incompatible with priority 255"."""
    config, result = run(tmp_path, VIP_INSTANCE.format(
        body=f"{settings}\n    virtual_ipaddress {{\n        192.0.2.10\n    }}"))
    instance = config.vrrp_instances[0]
    assert instance.preempt is True and not instance.preempt_delay
    assert [(n.line, n.kind) for n in result.notes] == [(line, CHANGED)]


def test_sync_daemon_id_defaults_to_the_vrid(tmp_path: Path):
    """vrrp.c: "If no syncid configured, use vrid"."""
    _, result = run(tmp_path, "global_defs {\n    lvs_sync_daemon eth0 VI_1\n}\n"
                    + VIP_INSTANCE.format(body="    virtual_ipaddress {\n        192.0.2.10\n"
                                          "    }"))
    assert result.document["global"]["lvs_sync_daemon"]["sync_id"] == 51


def test_persistence_engine_is_translated(tmp_path: Path):
    """check_parser.c pengine_handler(): the IPVS pe_name of the service."""
    config, result = run(tmp_path, vs("    persistence_timeout 60\n    persistence_engine sip\n"
                                      "    real_server 192.0.2.2 80 {\n    }\n"))
    assert config.virtual_servers[0].persistence_engine == "sip"
    assert not result.notes


def test_persistence_engine_reaches_the_ipvs_service():
    """haipvs/ipvs/desired.py hands it to IPVS as the service's pe_name (as keepalived's
    ipvswrapper.c does)."""
    from haipvs.ipvs.desired import desired_table

    config = load_config_text(
        "virtual_servers:\n  - address: 192.0.2.1\n    port: 5060\n    protocol: UDP\n"
        "    persistence_timeout: 60\n    persistence_engine: sip\n"
        "    real_servers: [{address: 192.0.2.2, port: 5060}]\n", "lvs.yaml")
    (service,) = desired_table(config)
    assert service.pe_name == "sip"


def test_real_server_of_the_other_family_is_skipped(tmp_path: Path):
    """check_parser.c rs_end_handler(): "Address family of virtual server and real server
    ... don't match - skipping real server" (unless it is TUN)."""
    config, result = run(tmp_path, vs("    real_server 192.0.2.2 80 {\n    }\n"
                                      "    real_server 2001:db8::2 80 {\n    }\n"
                                      "    real_server 192.0.2.3 80 {\n"
                                      "        lvs_method TUN\n    }\n",
                                      head="2001:db8::1 80"))
    assert [str(r.address) for r in config.virtual_servers[0].real_servers] == [
        "2001:db8::2", "192.0.2.3"]
    assert [n.line for n in result.notes] == [3]


def test_sorry_server_of_the_other_family_is_skipped(tmp_path: Path):
    """check_parser.c vs_end_handler(): "... don't match - skipping sorry server"."""
    config, result = run(tmp_path, vs("    sorry_server 192.0.2.9 80\n"
                                      "    real_server 2001:db8::2 80 {\n    }\n",
                                      head="2001:db8::1 80"))
    assert config.virtual_servers[0].sorry_server is None
    assert [n.line for n in result.notes] == [3]
