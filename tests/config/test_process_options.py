"""Process options (haipvs/config/process.py): keepalived's `instance`, `net_namespace`,
`startup_script[_timeout]`, `shutdown_script[_timeout]` (core/main.c, global_parser.c)."""

from __future__ import annotations

import dataclasses

import pytest

from haipvs.config import ConfigError, load_config_text
from haipvs.config.process import keep_fixed_at_start, runtime_paths


def settings(text: str):
    return load_config_text(text, "t.yaml").global_settings


def test_runtime_paths_put_namespace_and_instance_in_the_state_dir():
    """main.c make_pidfile_name(): the instance name is in the pid file's name; with
    net_namespace keepalived has a private /run/keepalived, haipvs a directory per namespace."""
    assert runtime_paths(None, None) == ("/run/haipvs", "/run/haipvs/haipvs.pid")
    assert runtime_paths("lb1", None) == ("/run/haipvs/lb1", "/run/haipvs/lb1/haipvs.pid")
    assert runtime_paths(None, "ns1") == ("/run/haipvs/netns/ns1",
                                          "/run/haipvs/netns/ns1/haipvs.pid")
    assert runtime_paths("lb1", "ns1")[0] == "/run/haipvs/netns/ns1/lb1"
    assert runtime_paths("lb1", "ns1", "/srv/x") == ("/srv/x", "/srv/x/haipvs.pid")
    assert runtime_paths("lb1", None, None, "/run/p.pid") == ("/run/haipvs/lb1", "/run/p.pid")


def test_state_dir_and_pid_file_follow_the_instance_name_unless_given():
    assert (settings("global: {instance: lb1}\n").state_dir,
            settings("global: {instance: lb1}\n").pid_file) == (
        "/run/haipvs/lb1", "/run/haipvs/lb1/haipvs.pid")
    given = settings("global: {instance: lb1, state_dir: /srv/h}\n")
    assert (given.state_dir, given.pid_file) == ("/srv/h", "/srv/h/haipvs.pid")
    plain = load_config_text("vrrp_instances: []\n").global_settings  # no global section
    assert (plain.state_dir, plain.pid_file, plain.instance) == (
        "/run/haipvs", "/run/haipvs/haipvs.pid", None)


def test_script_timeouts_default_to_10_and_range_1_to_1000():
    """global_parser.c startup_shutdown_script_timeout_handler(): [1, 1000]; default 10."""
    s = settings("global: {startup_script: [/bin/true]}\n")
    assert (tuple(s.startup_script), s.startup_script_timeout, s.shutdown_script_timeout) == (
        ("/bin/true",), 10, 10)
    with pytest.raises(ConfigError, match=r"shutdown_script_timeout: 1001 is out of range"):
        settings("global: {shutdown_script_timeout: 1001}\n")
    with pytest.raises(ConfigError, match=r"startup_script_timeout: 0 is out of range"):
        settings("global: {startup_script_timeout: 0}\n")


@pytest.mark.parametrize("text, message", [
    ("global: {instance: a/b}\n", "global.instance: 'a/b' is not valid"),
    ("global: {instance: ..}\n", "global.instance: '..' is not valid"),
    ("global: {instance: netns}\n", "global.instance: 'netns' is the directory"),
    ("global: {net_namespace: ../x}\n", "global.net_namespace: '../x' is not valid"),
])
def test_names_are_single_path_components(text: str, message: str):
    with pytest.raises(ConfigError) as caught:
        settings(text)
    assert any(message in str(issue) for issue in caught.value.issues), caught.value


def test_a_reload_keeps_instance_namespace_and_their_paths():
    """main.c reload: "Cannot change network namespace at a reload - please restart" (and
    the instance name): the running values stay, the rest of the new file applies."""
    old = settings("global: {instance: lb1, router_id: a}\n")
    new = settings("global: {instance: lb2, net_namespace: ns, router_id: b}\n")
    kept, changed = keep_fixed_at_start(old, new)
    assert changed == ["instance", "net_namespace", "state_dir", "pid_file", "nftables"]
    assert (kept.instance, kept.net_namespace, kept.state_dir, kept.router_id) == (
        "lb1", None, "/run/haipvs/lb1", "b")
    same = dataclasses.replace(old, router_id="c")
    assert keep_fixed_at_start(old, same) == (same, [])


def test_the_nftables_table_is_per_instance_unless_named():
    """Two haipvs in one namespace must not share their no_accept table."""
    assert settings("global: {router_id: a}\n").nftables == "haipvs"
    assert settings("global: {instance: lb-1.x}\n").nftables == "haipvs_lb_1_x"
    assert settings("global: {instance: lb1, nftables: mine}\n").nftables == "mine"


def test_the_command_line_namespace_moves_the_derived_paths_only():
    """keepalived -s/--namespace overrides net_namespace; haipvs's derived state_dir and pid
    file follow it, paths the file names stay."""
    from haipvs.config.process import namespace_override

    derived = settings("global: {instance: lb1}\n")
    assert namespace_override(derived, "ns2") == {
        "net_namespace": "ns2", "state_dir": "/run/haipvs/netns/ns2/lb1",
        "pid_file": "/run/haipvs/netns/ns2/lb1/haipvs.pid"}
    named = settings("global: {net_namespace: ns1, state_dir: /srv/h}\n")
    assert namespace_override(named, "ns2") == {"net_namespace": "ns2"}
    pid_named = settings("global: {pid_file: /run/lb.pid}\n")
    assert namespace_override(pid_named, "ns2") == {
        "net_namespace": "ns2", "state_dir": "/run/haipvs/netns/ns2"}
