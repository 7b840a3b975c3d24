"""The one kind of every notify-type script (haipvs/config/notify_script.py): keepalived's
`notify_xxx "command" USER [GROUP]` (lib/notify.c notify_script_init, set_script_uid_gid),
for every notify-type key, and script security seeing each script as its own user."""

from __future__ import annotations

import pytest

from haipvs.config import ConfigError, load_config_text
from haipvs.config.notify_script import ScriptCommand, script_command
from haipvs.config.scripts import apply_scripts, configured_scripts
from haipvs.policy.script_security import DEFAULT_SCRIPT_USER

INSTANCE = """\
vrrp_instances:
  - name: VI_1
    interface: lo
    virtual_router_id: 51
    virtual_ipaddress: [192.0.2.10/24]
    notify_master: {notify_master}
    notify_backup: /bin/echo backup now
"""


def instance(value: str):
    return load_config_text(INSTANCE.format(notify_master=value)).vrrp_instances[0]


def test_string_list_and_mapping_forms_give_one_script_command():
    assert instance("/bin/echo 'a b'").notify_master == ScriptCommand(("/bin/echo", "a b"))
    assert instance("[/bin/echo, x]").notify_master == ScriptCommand(("/bin/echo", "x"))
    given = instance("{command: /bin/echo up, user: nobody, group: nogroup}").notify_master
    assert given == ScriptCommand(("/bin/echo", "up"), "nobody", "nogroup")
    assert given.run_as == "nobody:nogroup"
    assert instance("{command: [/bin/echo], user: 'nobody:nogroup'}").notify_master.run_as \
        == "nobody:nogroup"


def test_a_script_command_reads_as_its_argv():
    script = ScriptCommand(("/bin/echo", "a"), "nobody")
    assert (tuple(script), script[0], script[1:], len(script)) == (
        ("/bin/echo", "a"), "/bin/echo", ("a",), 2)
    assert [*script, "x"] == ["/bin/echo", "a", "x"]
    assert script.with_args("INSTANCE", "VI_1") == ScriptCommand(
        ("/bin/echo", "a", "INSTANCE", "VI_1"), "nobody")
    assert script_command(("/bin/true",)) == ScriptCommand(("/bin/true",))


@pytest.mark.parametrize(("value", "message"), [
    ("{command: /bin/echo, user: no-such-user-xyz}", "user 'no-such-user-xyz' does not exist"),
    ("{command: /bin/echo, user: nobody, group: no-such-group-xyz}",
     "group 'no-such-group-xyz' does not exist"),
    ("{command: /bin/echo, group: nogroup}", "a group needs a `user`"),
    ("{command: /bin/echo, user: 'nobody:nogroup', group: nogroup}", "the group is given twice"),
    ("{user: nobody}", "missing required key 'command'"),
    ("{command: /bin/echo, uid: 0}", "unknown key"),
])
def test_bad_user_or_group_is_a_config_error_naming_the_key(value, message):
    """keepalived set_uid_gid(): an unknown user or group drops the script with a log line;
    haipvs refuses the file and says where."""
    with pytest.raises(ConfigError, match=message) as info:
        instance(value)
    assert "vrrp_instances[0].notify_master" in str(info.value)


def test_every_notify_type_key_takes_a_user():
    text = """\
global:
  notify_fifo: /run/haipvs-test/fifo
  notify_fifo_script: {command: /bin/cat, user: nobody}
  startup_script: {command: /bin/true, user: nobody}
vrrp_sync_groups:
  - name: G1
    group: [VI_1]
    notify_fault: {command: /bin/echo g, user: nobody}
""" + INSTANCE.format(notify_master="{command: /bin/echo m, user: nobody}") + """\
virtual_servers:
  - address: 192.0.2.10
    port: 80
    quorum_up: {command: /bin/echo up, user: nobody, group: nogroup}
    real_servers:
      - {address: 198.51.100.1, port: 80}
"""
    config = load_config_text(text)
    users = {s.where: s.user for s in configured_scripts(config)}
    assert users == {
        "global.notify_fifo_script": "nobody",
        "global.startup_script": "nobody",
        "vrrp_instances[VI_1].notify_master": "nobody",
        "vrrp_instances[VI_1].notify_backup": None,
        "vrrp_sync_groups[G1].notify_fault": "nobody",
        "virtual_servers[0].quorum_up": "nobody:nogroup",
    }


def test_apply_scripts_gives_scripts_without_a_user_the_default_user_and_keeps_own_ones():
    """lib/notify.c notify_script_init: the words after the command, else
    get_default_script_user()."""
    config = load_config_text(INSTANCE.format(
        notify_master="{command: echo m, user: nobody}"))
    running = apply_scripts(config, frozenset(), {
        "vrrp_instances[VI_1].notify_master": "/usr/bin/echo"}, DEFAULT_SCRIPT_USER)
    vi = running.vrrp_instances[0]
    assert vi.notify_master == ScriptCommand(("/usr/bin/echo", "m"), "nobody")
    assert vi.notify_backup == ScriptCommand(("/bin/echo", "backup", "now"),
                                             DEFAULT_SCRIPT_USER)
