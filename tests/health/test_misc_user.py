"""misc_check `user: "user:group"`, as keepalived's `user USERNAME [GROUPNAME]`:
lib/notify.c set_uid_gid() resolves the user and the optional group (which replaces the
user's login group), set_script_env() does setgid, setgroups(1, &gid), setuid."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import tempfile

import pytest

from haipvs.health.misc import probe_misc
from haipvs.health.spec import MiscProbe
from haipvs.script_creds import process_options

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing user needs root")


def _ids_script(out: str) -> tuple[str, ...]:
    return ("/bin/sh", "-c", f'echo "$(id -u) $(id -g) $(id -G)" > {out}')


@pytest.fixture
def out():
    # pytest's tmp_path sits under a 0700 directory that `nobody` cannot enter.
    directory = tempfile.mkdtemp(prefix="haipvs-misc-user-", dir="/tmp")
    os.chmod(directory, 0o777)
    yield os.path.join(directory, "ids")
    shutil.rmtree(directory)


@needs_root
def test_user_and_group_resolve_as_keepalived_set_uid_gid():
    nobody = pwd.getpwnam("nobody")
    nogroup = grp.getgrnam("nogroup").gr_gid
    assert process_options("nobody") == {
        "user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": [nobody.pw_gid]}
    assert process_options("nobody:nogroup") == {
        "user": nobody.pw_uid, "group": nogroup, "extra_groups": [nogroup]}


@needs_root
async def test_misc_runs_as_user_and_group(out):
    result = await probe_misc(MiscProbe(_ids_script(out), 5.0, user="nobody:nogroup"))
    assert result.ok, result.reason
    uid = pwd.getpwnam("nobody").pw_uid
    gid = grp.getgrnam("nogroup").gr_gid
    with open(out) as f:
        assert f.read().split() == [str(uid), str(gid), str(gid)]


@needs_root
async def test_misc_user_alone_runs_with_its_login_group(out):
    result = await probe_misc(MiscProbe(_ids_script(out), 5.0, user="nobody"))
    assert result.ok, result.reason
    entry = pwd.getpwnam("nobody")
    with open(out) as f:
        assert f.read().split() == [str(entry.pw_uid), str(entry.pw_gid), str(entry.pw_gid)]


async def test_a_group_removed_after_load_is_down_with_a_reason():
    result = await probe_misc(MiscProbe(("/bin/true",), 5.0, user="nobody:no-such-group-14"))
    assert not result.ok
    assert result.reason == "unknown group no-such-group-14"
