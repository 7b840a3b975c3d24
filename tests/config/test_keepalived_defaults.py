"""keepalived 2.2.7's defaults and load-time warnings, as haipvs' config applies them.

Each test names the keepalived rule and the source file it comes from."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from haipvs import limits
from haipvs.config import ConfigError, load_config, load_config_text
from haipvs.config.warnings import config_warnings, differences_for
from haipvs.health.config_map import check_spec
from haipvs.ipvs.desired import desired_sync_daemons
from haipvs.vrrp.messages import State
from haipvs.vrrp_binding import instance_params

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "tests" / "importer" / "seed003" / "lvs01.conf"


def instance_yaml(extra: str = "", name: str = "VI_1") -> str:
    body = f"""\
    - name: {name}
      interface: eth0
      virtual_router_id: 51
      virtual_ipaddress: [192.0.2.10]
    """
    return textwrap.indent(textwrap.dedent(body), "  ") + textwrap.indent(
        textwrap.dedent(extra), "    "
    )


def one_instance(extra: str = "", top: str = ""):
    text = "vrrp_instances:\n" + instance_yaml(extra) + top
    return load_config_text(text, "lvs.yaml")


def one_checker(checker: str, vs_extra: str = ""):
    text = textwrap.dedent(f"""\
    virtual_servers:
      - address: 192.0.2.100
        port: 80
        protocol: TCP
    {textwrap.indent(vs_extra, "    ")}
        real_servers:
          - address: 198.51.100.1
            port: 80
            {checker}
    """)
    config = load_config_text(text, "lvs.yaml")
    vs = config.virtual_servers[0]
    return config, vs, vs.real_servers[0]


# --- keepalived.conf given to the YAML loader -------------------------------------------------


def test_a_keepalived_conf_is_named_and_pointed_to_the_importer():
    with pytest.raises(ConfigError) as caught:
        load_config(SEED)
    (issue,) = caught.value.issues
    assert "looks like a keepalived.conf" in issue.message
    assert f"haipvs import-keepalived {SEED} > lvs.yaml" in issue.message
    assert "global_defs" not in str(caught.value)  # the file is not echoed back


def test_a_long_scalar_is_shortened_in_the_message():
    with pytest.raises(ConfigError) as caught:
        load_config_text("x" * 5000, "lvs.yaml")
    assert len(str(caught.value)) < 300


def test_yaml_with_braces_is_not_taken_for_keepalived():
    config = load_config_text("global: {router_id: lvs01}\n", "lvs.yaml")
    assert config.global_settings.router_id == "lvs01"


# --- warnings: keepalived vrrp.c vrrp_complete_instance() -------------------------------------


def test_nopreempt_with_state_master_warns_as_keepalived_vrrp_c():
    (warning,) = config_warnings(one_instance("state: MASTER\npreempt: false\n"))
    assert warning.where == "vrrp_instances[VI_1].state"
    assert "nopreempt will not work with initial state MASTER" in warning.message


def test_preempt_delay_with_state_master_warns_as_keepalived_vrrp_c():
    (warning,) = config_warnings(one_instance("state: MASTER\npreempt_delay: 10\n"))
    assert "preempt delay will not work with initial state MASTER" in warning.message


def test_nopreempt_with_priority_255_warns_as_keepalived_vrrp_c():
    (warning,) = config_warnings(one_instance("priority: 255\npreempt: false\n"))
    assert warning.where == "vrrp_instances[VI_1].preempt"
    assert "priority 255" in warning.message


def test_preempt_delay_with_nopreempt_warns_as_keepalived_vrrp_c():
    (warning,) = config_warnings(one_instance("preempt: false\npreempt_delay: 5\n"))
    assert warning.where == "vrrp_instances[VI_1].preempt_delay"
    assert "incompatible with nopreempt" in warning.message


def test_a_plain_backup_has_no_warning():
    assert config_warnings(one_instance("preempt_delay: 5\n")) == []


# --- garp: keepalived vrrp.c vrrp_complete_init(), vrrp_parser.c ------------------------------


def test_lower_prio_garp_follows_master_repeat_and_delay_as_keepalived_vrrp_c():
    garp = one_instance("garp: {master_repeat: 3, master_delay: 2}\n").vrrp_instances[0].garp
    assert (garp.lower_prio_repeat, garp.lower_prio_delay) == (3, 2.0)
    default = one_instance().vrrp_instances[0].garp
    assert (default.lower_prio_repeat, default.lower_prio_delay) == (
        limits.GARP_MASTER_REPEAT, limits.GARP_MASTER_DELAY)
    given = one_instance("garp: {lower_prio_repeat: 0, lower_prio_delay: 0}\n")
    assert (given.vrrp_instances[0].garp.lower_prio_repeat,
            given.vrrp_instances[0].garp.lower_prio_delay) == (0, 0.0)


def test_garp_master_refresh_repeat_is_a_setting_that_reaches_the_core():
    instance = one_instance("garp: {master_refresh: 30, master_refresh_repeat: 4}\n")
    assert instance_params(instance.vrrp_instances[0]).garp.master_refresh_repeat == 4
    # keepalived vrrp_parser.c vrrp_garp_refresh_rep_handler(): must be greater than 0
    with pytest.raises(ConfigError):
        one_instance("garp: {master_refresh_repeat: 0}\n")


# --- lvs_sync_daemon: keepalived vrrp.c vrrp_complete_init() "If no syncid configured, use vrid"


def test_sync_daemon_id_defaults_to_the_instance_vrid_as_keepalived_vrrp_c():
    top = "global: {lvs_sync_daemon: {interface: eth1, vrrp_instance: VI_1}}\n"
    config = one_instance("", top)
    assert config.global_settings.lvs_sync_daemon.sync_id is None
    (daemon,) = desired_sync_daemons(config, {"VI_1": State.MASTER})
    assert daemon.syncid == 51
    given = one_instance("", top.replace("VI_1}", "VI_1, sync_id: 0}"))
    assert desired_sync_daemons(given, {})[0].syncid == 0


# --- checker retries: keepalived check_api.c, check_misc.c, check_dns.c, check_data.c --------


@pytest.mark.parametrize(("checker", "retry", "delay_before_retry"), [
    ("tcp_check: {}", 1, 1.0),  # check_api.c alloc_checker()
    ("udp_check: {}", 1, 1.0),  # check_api.c alloc_checker()
    ("http_get: {url: [{path: /}]}", 1, 3.0),  # check_http.c: 3 s
    ("ssl_get: {url: [{path: /}]}", 1, 3.0),  # check_http.c: 3 s
    ("misc_check: {path: [/bin/true]}", 0, 1.0),  # check_misc.c: default_retry = 0
    ("dns_check: {}", 3, 7.0),  # check_dns.c: DNS_DEFAULT_RETRY, delay_before_retry = delay_loop
])
def test_checker_retry_defaults_follow_keepalived(checker, retry, delay_before_retry):
    _, vs, rs = one_checker(checker, "delay_loop: 7")
    timing = check_spec(rs.checkers[0], vs, rs).timing
    assert (timing.retry, timing.delay_before_retry) == (retry, delay_before_retry)


def test_dns_delay_before_retry_is_the_checker_delay_loop():
    _, vs, rs = one_checker("dns_check: {delay_loop: 4}")
    assert check_spec(rs.checkers[0], vs, rs).timing.delay_before_retry == 4.0


# --- misc_check.user: keepalived lib/notify.c set_uid_gid() at load ---------------------------


def test_misc_user_and_group_must_exist_as_keepalived_set_uid_gid():
    _, _, rs = one_checker('misc_check: {path: [/bin/true], user: "nobody:nogroup"}')
    assert rs.checkers[0].user == "nobody:nogroup"
    with pytest.raises(ConfigError, match="user 'no-such-user-14' does not exist"):
        one_checker('misc_check: {path: [/bin/true], user: "no-such-user-14"}')
    with pytest.raises(ConfigError, match="group 'no-such-group-14' does not exist"):
        one_checker('misc_check: {path: [/bin/true], user: "nobody:no-such-group-14"}')


# --- the differences left, in one list ----------------------------------------------------------


def test_differences_apply_only_where_the_config_relies_on_them():
    config, _, _ = one_checker("tcp_check: {warmup: 0}")
    assert [d.where for d in differences_for(config)] == ["virtual_servers[].protocol"]
    config, _, _ = one_checker("misc_check: {path: [/bin/true]}")
    # misc_check.user: no difference since issue 15, the default is keepalived's
    # (haipvs/policy/script_security.py default_user, tests/ops/test_script_security.py)
    assert [d.where for d in differences_for(config)] == [
        "virtual_servers[].protocol",
        "virtual_servers[].real_servers[].<checker>.warmup",
    ]
    assert differences_for(one_instance()) == []


def test_a_value_written_in_the_file_is_not_a_difference_even_if_it_is_the_default():
    """`haipvs check` passes the file as written: `protocol: TCP` was the operator's choice."""
    config, _, _ = one_checker("misc_check: {path: [/bin/true], warmup: 0}")
    written = {"virtual_servers": [{"protocol": "TCP", "real_servers": [
        {"misc_check": {"path": ["/bin/true"], "warmup": 0}}]}]}
    assert [d.where for d in differences_for(config, written)] == []
    written["virtual_servers"][0].pop("protocol")
    assert "virtual_servers[].protocol" in [d.where for d in differences_for(config, written)]


def test_migration_doc_table_is_the_list_in_limits():
    text = (ROOT / "docs" / "migration.md").read_text()
    section = text.split("## 5. Defaults that differ from keepalived", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows == [
        f"| `{r.setting}` | {r.keepalived} | {r.haipvs} | {r.why} |"
        for r in limits.KEEPALIVED_DIFFERENCES
    ]


def test_default_instance_gives_the_core_keepalived_lower_prio_bursts():
    # keepalived vrrp.c vrrp_complete_init() / vrrp.c lower-priority advert handling: 5 garps,
    # and 5 more garp_lower_prio_delay (= garp_master_delay, 5 s) later. The core's handling of
    # these values: tests/vrrp/test_rfc5798_6_4.py (regarps_like_keepalived).
    garp = instance_params(one_instance().vrrp_instances[0]).garp
    assert (garp.lower_prio_repeat, garp.lower_prio_delay, garp.master_refresh_repeat) == (
        5, 5.0, 1)
