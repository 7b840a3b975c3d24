"""Each notify script runs as its own user (keepalived lib/notify.c notify_script_init:
`notify_master "/path/script arg" USER [GROUP]`, else get_default_script_user): the
director's RunNotify carries one user per script, for instances, sync groups, instance
notices and quorum scripts."""

from __future__ import annotations

from haipvs.events import NOTICE_DELETED, InstanceNotice
from haipvs.policy.notify_scripts import RunNotify, notice_notify
from haipvs.vrrp.messages import State
from tests.policy.director_support import config, director, of_type, transition

USERS = """
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    virtual_ipaddress: [192.0.2.100/24]
    notify_master: {command: /bin/m1 now, user: nobody, group: nogroup}
    notify_backup: [/bin/b1]
    notify: {command: [/bin/n1, x], user: nobody}
    notify_deleted: true
    notify_deleted_script: {command: /bin/gone, user: nobody}
  - name: VI_2
    interface: eth1
    virtual_router_id: 52
    virtual_ipaddress: [192.0.2.200/24]
vrrp_sync_groups:
  - name: G1
    group: [VI_1, VI_2]
    notify_master: {command: /bin/gm, user: nobody}
    notify: [/bin/gn]
"""


def test_vrrp_notify_state_script_and_generic_notify_each_run_as_their_own_user():
    policy = director(USERS)
    runs = of_type(policy.handle(0.0, transition("VI_1", State.BACKUP, State.MASTER, priority=150)),
                   RunNotify)
    (run,) = [r for r in runs if r.owner == "instance:VI_1"]
    assert run.scripts == (("/bin/m1", "now"),
                           ("/bin/n1", "x", "INSTANCE", "VI_1", "MASTER", "150"))
    assert run.users == ("nobody:nogroup", "nobody")


def test_a_script_without_its_own_user_leaves_the_runner_default():
    policy = director(USERS)
    runs = of_type(policy.handle(0.0, transition("VI_1", State.MASTER, State.BACKUP)),
                   RunNotify)
    (run,) = [r for r in runs if r.owner == "instance:VI_1"]
    assert run.users == (None, "nobody")  # notify_backup: the default script user


def test_sync_group_scripts_keep_their_users():
    policy = director(USERS)
    for name in ("VI_1", "VI_2"):
        policy.handle(1.0, transition(name, State.INIT, State.BACKUP))
    policy.handle(2.0, transition("VI_1", State.BACKUP, State.MASTER))
    runs = of_type(policy.handle(2.0, transition("VI_2", State.BACKUP, State.MASTER)),
                   RunNotify)
    (run,) = [r for r in runs if r.owner == "group:G1"]
    assert run.scripts == (("/bin/gm",), ("/bin/gn", "GROUP", "G1", "MASTER", "0"))
    assert run.users == ("nobody", None)


def test_notify_deleted_scripts_keep_their_users():
    instance = config(USERS).vrrp_instances[0]
    run = notice_notify(instance, InstanceNotice("VI_1", NOTICE_DELETED, 100, at=0.0))
    assert run is not None
    assert run.scripts == (("/bin/gone",), ("/bin/n1", "x", "INSTANCE", "VI_1", "DELETED",
                                            "100"))
    assert run.users == ("nobody", "nobody")
