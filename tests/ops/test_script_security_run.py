"""Every script runner runs its script as the configured user and group, through the one
helper (haipvs/script_creds.py process_options), as keepalived's lib/notify.c
set_script_env(): setgid(gid), setgroups(1, &gid), setuid(uid). Each script writes
`id -u`, `id -g` and `id -G` to a file in a world-writable directory.

Runners: notify scripts (haipvs/notify.py run_script / NotifyRunner), FIFO scripts
(EventStream), track scripts (haipvs/trackers.py); MISC_CHECK: tests/health/test_misc_user.py.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest
import trio

from haipvs.config import ConfigError
from haipvs.config.loader import load_config_text
from haipvs.notify import EventStream, NotifyFifo, NotifyRunner, notify_fifos, run_script
from haipvs.trackers import Trackers

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changing user needs root")

NOBODY = pwd.getpwnam("nobody").pw_uid
NOGROUP = grp.getgrnam("nogroup").gr_gid
DAEMON_GID = grp.getgrnam("daemon").gr_gid


@pytest.fixture
def outdir():
    # pytest's tmp_path sits under a 0700 directory that `nobody` cannot enter.
    directory = tempfile.mkdtemp(prefix="haipvs-script-user-", dir="/tmp")
    os.chmod(directory, 0o777)
    yield Path(directory)
    shutil.rmtree(directory)


def ids_script(out: Path) -> tuple[str, ...]:
    return ("/bin/sh", "-c", f'echo "$(id -u) $(id -g) $(id -G)" > {out}')


async def wait_for(path: Path, timeout: float = 5.0) -> list[str]:
    with trio.fail_after(timeout):
        while not (path.exists() and path.read_text().endswith("\n")):
            await trio.sleep(0.02)
    return path.read_text().split()


async def test_run_script_as_user_and_group(outdir):
    out = outdir / "ids"
    code, _ = await run_script(ids_script(out), 5.0, user="nobody:daemon")
    assert code == 0
    assert out.read_text().split() == [str(NOBODY), str(DAEMON_GID), str(DAEMON_GID)]


async def test_run_script_without_a_user_runs_as_the_daemon(outdir):
    out = outdir / "ids"
    assert (await run_script(ids_script(out), 5.0))[0] == 0
    assert out.read_text().split()[:2] == ["0", "0"]


async def test_notify_runner_runs_notify_scripts_as_script_user(outdir):
    out = outdir / "notify"
    runner = NotifyRunner(timeout=5.0)
    runner.user = "nobody:nogroup"  # global.script_user, as the daemon sets it
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.run)
        runner.submit("instance:VI_1", [ids_script(out)], {})
        await runner.wait_idle()
        nursery.cancel_scope.cancel()
    assert out.read_text().split() == [str(NOBODY), str(NOGROUP), str(NOGROUP)]


async def test_fifo_script_runs_as_its_user_and_owns_the_fifo(outdir):
    out = outdir / "fifo"
    stream = EventStream(fifos=[NotifyFifo(str(outdir / "events.fifo"), ids_script(out),
                                           user="nobody:nogroup")])
    stream.open()
    try:
        assert await wait_for(out) == [str(NOBODY), str(NOGROUP), str(NOGROUP)]
        # lib/notify.c fifo_open chowns a FIFO it makes to the FIFO's (script) user
        fifo = os.stat(outdir / "events.fifo")
        assert (fifo.st_uid, fifo.st_gid) == (NOBODY, NOGROUP)
    finally:
        await stream.aclose()


async def test_fifo_with_its_own_owner_belongs_to_it_and_its_script_to_the_script_user(outdir):
    """global_parser.c notify_fifo `FIFO USER [GROUP]` sets the FIFO's owner (fifo_open
    chowns the FIFO it makes to it); the FIFO script without a user of its own still runs as
    the default script user (notify_fifo_script -> notify_script_init)."""
    out = outdir / "fifo"
    stream = EventStream(fifos=[NotifyFifo(str(outdir / "events.fifo"), ids_script(out),
                                           user="nobody:nogroup", owner="nobody:daemon")])
    stream.open()
    try:
        assert await wait_for(out) == [str(NOBODY), str(NOGROUP), str(NOGROUP)]
        fifo = os.stat(outdir / "events.fifo")
        assert (fifo.st_uid, fifo.st_gid) == (NOBODY, DAEMON_GID)
    finally:
        await stream.aclose()


def test_fifo_owner_settings_reach_the_fifos():
    config = load_config_text("""
global:
  router_id: t
  notify_fifo: /run/haipvs-t-a.fifo
  notify_fifo_owner: "nobody:daemon"
  vrrp_notify_fifo: /run/haipvs-t-v.fifo
  lvs_notify_fifo: /run/haipvs-t-l.fifo
  lvs_notify_fifo_owner: nobody
""")
    fifos, _ = notify_fifos(config.global_settings)
    assert [(f.path, f.owner) for f in fifos] == [
        ("/run/haipvs-t-a.fifo", "nobody:daemon"), ("/run/haipvs-t-v.fifo", None),
        ("/run/haipvs-t-l.fifo", "nobody")]


@pytest.mark.parametrize(("text", "error"), [
    ("  notify_fifo_owner: nobody\n", "notify_fifo_owner is the owner of notify_fifo, which "
     "is not set"),
    ("  notify_fifo: /run/x.fifo\n  notify_fifo_owner: haipvs-no-such-user\n",
     "haipvs-no-such-user"),
])
def test_fifo_owner_needs_its_fifo_and_an_existing_user(text, error):
    with pytest.raises(ConfigError, match=error):
        load_config_text("global:\n  router_id: t\n" + text)


async def test_track_script_runs_as_its_user(outdir):
    out = outdir / "track"
    script = json.dumps(list(ids_script(out)))  # a YAML flow list
    config = load_config_text(f"""
global: {{router_id: t}}
vrrp_scripts:
  - {{name: chk, script: {script}, user: "nobody:daemon", interval: 10}}
vrrp_instances:
  - {{name: VI_1, interface: lo, virtual_router_id: 1, virtual_ipaddress: [192.0.2.1],
      track_script: [chk]}}
""")
    published = []
    trackers = Trackers(config, lambda *args, **kwargs: published.append(args))
    async with trio.open_nursery() as nursery:
        await nursery.start(trackers.run)
        assert await wait_for(out) == [str(NOBODY), str(DAEMON_GID), str(DAEMON_GID)]
        nursery.cancel_scope.cancel()
