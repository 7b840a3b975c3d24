"""track_script and track_file, run on the MAIN loop; their results go to the VRRP thread
with `VrrpRuntime.set_tracker` (a priority delta and/or a fault per source).

(track_interface runs inside the VRRP runtime, next to its link monitor.)

keepalived semantics:
- script: exit 0 = success. `fall` failures in a row make an OK script failed, `rise`
  successes make a failed script OK; the first result decides at once. weight 0: failed =
  FAULT; weight < 0: added (i.e. subtracted) while failed; weight > 0: added while OK.
- file: an integer (missing, empty or unreadable = 0). weight 0: non-zero = FAULT; otherwise
  value x weight is added; a result <= -254 is a FAULT.
Until a tracker has its first result it contributes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import structlog
import trio

from haipvs.config.model import Config, TrackFile, VrrpScript
from haipvs.notify import run_script

log = structlog.get_logger("haipvs.trackers")

FILE_POLL_INTERVAL = 0.5
FAULT_RESULT = -254  # keepalived: a track_file result below -253 is a fault

# set_tracker(instance, source, delta=..., fault=...)
Publish = Callable[..., None]


class _Tracker:
    kind = ""

    def __init__(self, spec: VrrpScript | TrackFile) -> None:
        self.spec = spec
        self.users: dict[str, int] = {}  # instance -> weight
        self.scope = trio.CancelScope()

    @property
    def source(self) -> str:
        return f"{self.kind}:{self.spec.name}"

    def contribution(self, weight: int) -> tuple[int, str | None]:
        raise NotImplementedError

    def publish(self, publish: Publish, only: str | None = None) -> None:
        for instance, weight in self.users.items():
            if only is None or only == instance:
                delta, fault = self.contribution(weight)
                publish(instance, self.source, delta=delta, fault=fault)

    def describe(self) -> dict:
        raise NotImplementedError


class ScriptTracker(_Tracker):
    kind = "track_script"
    spec: VrrpScript

    def __init__(self, spec: VrrpScript) -> None:
        super().__init__(spec)
        self.ok: bool | None = None
        self.streak = 0  # results in a row that disagree with `ok`
        self.runs = 0
        self.last_detail = ""

    def record(self, success: bool) -> bool:
        """Feed one result; True when the OK/failed state changed."""
        self.runs += 1
        if self.ok is None:
            self.ok = success
            return True
        if success == self.ok:
            self.streak = 0
            return False
        self.streak += 1
        if self.streak >= (self.spec.rise if success else self.spec.fall):
            self.ok = success
            self.streak = 0
            return True
        return False

    def contribution(self, weight: int) -> tuple[int, str | None]:
        if self.ok is None:
            return 0, None
        if weight == 0:
            return 0, None if self.ok else f"track_script {self.spec.name} failed"
        if (self.ok and weight > 0) or (not self.ok and weight < 0):
            return weight, None
        return 0, None

    def describe(self) -> dict:
        return {"ok": self.ok, "runs": self.runs, "detail": self.last_detail,
                "users": dict(self.users)}

    async def run(self, publish: Publish) -> None:
        spec = self.spec
        timeout = spec.timeout if spec.timeout is not None else spec.interval
        with self.scope:
            while True:
                started = trio.current_time()
                code, detail = await run_script(spec.script, timeout)
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
    kind = "track_file"
    spec: TrackFile

    def __init__(self, spec: TrackFile) -> None:
        super().__init__(spec)
        self.value: int | None = None

    def contribution(self, weight: int) -> tuple[int, str | None]:
        if self.value is None:
            return 0, None
        if weight == 0:
            return 0, (f"track_file {self.spec.name} holds {self.value}" if self.value else None)
        result = self.value * weight
        if result <= FAULT_RESULT:
            return 0, f"track_file {self.spec.name}: {self.value} x {weight} = {result}"
        return result, None

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

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self.update(self._config)
            task_status.started()
            await trio.sleep_forever()

    def update(self, config: Config) -> None:
        self._config = config
        if self._nursery is None:
            return
        self._sync(self.scripts, {s.name: s for s in config.vrrp_scripts}, ScriptTracker,
                   "track_script")
        self._sync(self.files, {f.name: f for f in config.vrrp_track_files}, FileTracker,
                   "track_file")

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
        }
