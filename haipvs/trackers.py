"""track_script and track_file, run on the MAIN loop; their results go to the VRRP thread
with `VrrpRuntime.set_tracker` (a priority delta and/or a fault per typed source).

(track_interface runs inside the VRRP runtime, next to its link monitor.)

This module runs the scripts and reads the files; the rules are haipvs.policy.priority's
(keepalived's): `RiseFall` for a script's rise/fall, `weighted` for a script's weight (the
rule track_interface shares), `file_weighted` for a file's value x weight. A file is an
integer (missing, empty or unreadable = 0). Until a tracker has its first result it
contributes nothing.

At start the track files are read once, synchronously, before the VRRP instances start
(`Trackers.read_files`; on a reload, before the instances it adds start), so an instance
whose file is faulty starts in FAULT with no BACKUP first: keepalived reads them while it
loads the config (vrrp_track.c initialise_track_file_state, before vrrp_scheduler.c
vrrp_init_state). A track_script has no result before its first run and contributes nothing
until then, as keepalived's weighted ones (vrrp_track.c initialise_track_script_state); a
weight-0 one holds keepalived's instance in a silent FAULT until then, which haipvs does not
(a difference listed in docs/operations.md, with `init_fail`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
import trio

from haipvs.config.model import Config, TrackFile, VrrpScript
from haipvs.notify import run_script
from haipvs.policy.priority import (
    NOTHING,
    Contribution,
    Kind,
    RiseFall,
    Source,
    file_weighted,
    weighted,
)

if TYPE_CHECKING:  # issue 18: loaded with the first config that has track_process (_watch)
    from haipvs.drivers.proc_watch import ProcWatch

log = structlog.get_logger("haipvs.trackers")

FILE_POLL_INTERVAL = 0.5

# set_tracker(instance, source, delta=..., fault=...)
Publish = Callable[..., None]


class _Tracker:
    kind: Kind

    def __init__(self, spec: VrrpScript | TrackFile) -> None:
        self.spec = spec
        self.users: dict[str, int] = {}  # instance -> weight
        self.scope = trio.CancelScope()

    @property
    def source(self) -> Source:
        return Source(self.kind, self.spec.name)

    def contribution(self, weight: int) -> Contribution:
        raise NotImplementedError

    def publish(self, publish: Publish, only: str | None = None) -> None:
        for instance, weight in self.users.items():
            if only is None or only == instance:
                contribution = self.contribution(weight)
                publish(instance, self.source, delta=contribution.delta,
                        fault=contribution.fault)

    def describe(self) -> dict:
        raise NotImplementedError


class ScriptTracker(_Tracker):
    kind = Kind.TRACK_SCRIPT
    spec: VrrpScript

    def __init__(self, spec: VrrpScript) -> None:
        super().__init__(spec)
        self.state = RiseFall(rise=spec.rise, fall=spec.fall)
        self.runs = 0
        self.last_detail = ""

    @property
    def ok(self) -> bool | None:
        return self.state.ok

    def record(self, success: bool) -> bool:
        """Feed one result; True when the OK/failed state changed."""
        self.runs += 1
        return self.state.record(success)

    def contribution(self, weight: int) -> Contribution:
        if self.ok is None:
            return NOTHING
        return weighted(weight, self.ok, f"track_script {self.spec.name} failed")

    def describe(self) -> dict:
        # run_as: keepalived's dump writes the script's uid:gid (vrrp_data.c dump_vscript)
        return {"ok": self.ok, "runs": self.runs, "detail": self.last_detail,
                "users": dict(self.users), "run_as": self.spec.user}

    async def run(self, publish: Publish) -> None:
        spec = self.spec
        timeout = spec.timeout if spec.timeout is not None else spec.interval
        with self.scope:
            while True:
                started = trio.current_time()
                code, detail = await run_script(spec.script, timeout, user=spec.user)
                self.last_detail = detail if code != 0 else ""
                if self.record(code == 0):
                    log.info("track_script_" + ("ok" if self.ok else "failed"),
                             script=spec.name, exit_code=code, detail=detail or None)
                    self.publish(publish)
                await trio.sleep_until(started + spec.interval)


def read_track_file(path: str) -> int:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return 0
    try:
        return int(text.split()[0]) if text else 0
    except ValueError:
        return 0


class FileTracker(_Tracker):
    kind = Kind.TRACK_FILE
    spec: TrackFile

    def __init__(self, spec: TrackFile) -> None:
        super().__init__(spec)
        self.value: int | None = None

    def contribution(self, weight: int) -> Contribution:
        if self.value is None:
            return NOTHING
        return file_weighted(self.spec.name, self.value, weight)

    def describe(self) -> dict:
        return {"value": self.value, "users": dict(self.users)}

    async def run(self, publish: Publish) -> None:
        with self.scope:
            while True:
                value = await trio.to_thread.run_sync(read_track_file, self.spec.file)
                if value != self.value:
                    log.info("track_file_changed", file=self.spec.file, old=self.value,
                             new=value)
                    self.value = value
                    self.publish(publish)
                await trio.sleep(FILE_POLL_INTERVAL)


def _users(config: Config, kind: str, specs: dict[str, VrrpScript | TrackFile]
           ) -> dict[str, dict[str, int]]:
    users: dict[str, dict[str, int]] = {name: {} for name in specs}
    for instance in config.vrrp_instances:
        for ref in getattr(instance, kind):
            weight = ref.weight if ref.weight is not None else specs[ref.name].weight
            users[ref.name][instance.name] = weight
    return users


class Trackers:
    """All script and file trackers of a config. `update(config)` on reload keeps the state
    of trackers whose definition did not change."""

    def __init__(self, config: Config, publish: Publish) -> None:
        self._publish = publish
        self._config = config
        self.scripts: dict[str, ScriptTracker] = {}
        self.files: dict[str, FileTracker] = {}
        self._nursery: trio.Nursery | None = None
        self._read_at_start: dict[str, int] = {}  # read_files' values, for the trackers
        # track_process: the kernel's process events (haipvs/drivers/proc_watch.py), made
        # for the first config that has one (issue 18: its modules are ~160 KiB)
        self.processes: ProcWatch | None = None
        if config.vrrp_track_processes:
            self._watch()

    def _watch(self) -> ProcWatch:
        """The process watcher, made with the config in force (a reload that adds the
        first track_process then updates it to the new one, as it would a running one)."""
        if self.processes is None:
            from haipvs.drivers.proc_watch import ProcWatch

            self.processes = ProcWatch(self._config, self._publish)
            if self._nursery is not None:
                self._nursery.start_soon(self.processes.run)
        return self.processes

    def read_files(self, publish: Publish, config: Config | None = None,
                   instances: frozenset[str] | None = None) -> None:
        """Read the track files now (blocking) and hand each using instance its
        contribution through `publish` (VrrpRuntime.preset_tracker): at start for every
        instance, before the trackers run; on a reload for the `instances` it adds, before
        they start (keepalived reads them while loading the new config)."""
        config = config if config is not None else self._config
        specs = {f.name: f for f in config.vrrp_track_files}
        users = _users(config, "track_file", specs)
        for name, spec in specs.items():
            wanted = {i: w for i, w in users[name].items()
                      if instances is None or i in instances}
            if not wanted:
                continue
            tracker = FileTracker(spec)
            tracker.value = read_track_file(spec.file)
            if name not in self.files:  # a running tracker keeps its own value
                self._read_at_start[name] = tracker.value
            tracker.users = wanted
            tracker.publish(publish)
            log.info("track_file_read", file=spec.file, value=tracker.value)
        if config.vrrp_track_processes:
            self._watch().preset(publish, config, instances)  # a /proc walk, likewise

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            if self.processes is not None:  # (starts once update below has run)
                nursery.start_soon(self.processes.run)
            self.update(self._config)
            task_status.started()
            await trio.sleep_forever()

    def update(self, config: Config) -> None:
        if self._nursery is not None and config.vrrp_track_processes:
            self._watch()  # before the new config is in force: see _watch
        self._config = config
        if self._nursery is None:
            return
        self._sync(self.scripts, {s.name: s for s in config.vrrp_scripts}, ScriptTracker,
                   "track_script")
        self._sync(self.files, {f.name: f for f in config.vrrp_track_files}, FileTracker,
                   "track_file")
        if self.processes is not None:
            self.processes.update(config)

    def _sync(self, running: dict, specs: dict, factory: type, kind: str) -> None:
        assert self._nursery is not None
        users = _users(self._config, kind, specs)
        for name in list(running):
            tracker = running[name]
            if specs.get(name) != tracker.spec:
                tracker.scope.cancel()
                del running[name]
                for instance in tracker.users:  # clear what it contributed
                    self._publish(instance, tracker.source, delta=0, fault=None)
        for name, spec in specs.items():
            tracker = running.get(name)
            if tracker is None:
                tracker = running[name] = factory(spec)
                if isinstance(tracker, FileTracker) and name in self._read_at_start:
                    tracker.value = self._read_at_start.pop(name)  # a change is still told
                self._nursery.start_soon(tracker.run, self._publish)
            wanted = users[name]
            for gone in set(tracker.users) - set(wanted):
                self._publish(gone, tracker.source, delta=0, fault=None)
            changed = {i for i, w in wanted.items() if tracker.users.get(i) != w}
            tracker.users = dict(wanted)
            for instance in changed:
                tracker.publish(self._publish, only=instance)

    def snapshot(self) -> dict:
        return {
            "scripts": {name: t.describe() for name, t in sorted(self.scripts.items())},
            "files": {name: t.describe() for name, t in sorted(self.files.items())},
            "processes": (self.processes.snapshot() if self.processes is not None
                          else {"mode": "off", "lost_events": 0, "processes": {}}),
        }
