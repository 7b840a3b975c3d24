"""BFD wiring (issue 17): the `bfd` section's sessions read from BIRD by
haipvs/drivers/bird_bfd.py on the main trio loop, and track_bfd published to the VRRP thread
with `VrrpRuntime.set_tracker` (non-blocking; only typed SourceUpdate events cross). Decides
nothing: the rules are haipvs/policy/bfd_sessions.py.

Start: before the VRRP instances start every tracked session is down
(`preset`, keepalived vrrp_track.c initialise_track_bfd_state: bfd_up is false until the BFD
process says otherwise), so an instance with an unweighted track_bfd starts in FAULT and
leaves it on BIRD's first "Up", one poll later.

Reload: with the same `bfd` section the client keeps running and the users (added, removed,
new weights) get the sessions' current state, as keepalived's reload keeps it (vrrp.c
reload_vrrp_thread: nvbfd->bfd_up = vbfd->bfd_up). A changed `bfd` section restarts the
client with every session down until its first poll (poll_interval later).
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
import trio

from haipvs.config import Config
from haipvs.drivers.bird_bfd import BirdBfdClient, TrackBfd
from haipvs.policy.bfd_sessions import SessionChanged, SessionSpec
from haipvs.policy.priority import Kind, Source

log = structlog.get_logger("haipvs.bfd")

Publish = Callable[..., None]


def specs(config: Config) -> list[SessionSpec]:
    if config.bfd is None:
        return []
    return [SessionSpec(s.name, str(s.neighbor), s.interface) for s in config.bfd.sessions]


def track_users(config: Config) -> dict[str, dict[str, tuple[int, bool]]]:
    """session name -> {instance: (weight, reverse)} for every track_bfd."""
    users: dict[str, dict[str, tuple[int, bool]]] = {}
    for instance in config.vrrp_instances:
        for ref in instance.track_bfd:
            users.setdefault(ref.name, {})[instance.name] = (ref.weight, ref.reverse)
    return users


class BfdWiring:
    def __init__(self, config: Config, publish: Publish) -> None:
        self.config = config
        self.track = TrackBfd(track_users(config), publish)
        self.client: BirdBfdClient | None = None
        self._scope: trio.CancelScope | None = None
        self.listeners: list[Callable[[SessionChanged], None]] = []

    def preset(self, publish: Publish) -> None:
        """Before the instances start (VrrpRuntime.preset_tracker)."""
        self.track.preset(publish)

    def _on_change(self, change: SessionChanged) -> None:
        self.track.on_change(change)
        for listener in self.listeners:
            listener(change)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        while True:
            bfd = self.config.bfd
            self._scope = trio.CancelScope()
            with self._scope:
                if bfd is None:
                    self.client = None
                    await trio.sleep_forever()
                self.client = BirdBfdClient(bfd.control_socket, specs(self.config),
                                            bfd.poll_interval, self._on_change)
                log.info("bird_bfd_started", socket=bfd.control_socket,
                         sessions=len(bfd.sessions), poll_interval=bfd.poll_interval)
                await self.client.run()

    def update(self, config: Config) -> None:
        """On reload: new users; with unchanged sessions the client keeps running and each
        user gets the session's current state, else the client restarts with every session
        down until its first poll."""
        same_sessions = config.bfd == self.config.bfd
        old = self.track.users
        self.config = config
        self.track.users = track_users(config)
        for name, instances in old.items():  # clear what a dropped use contributed
            for instance in set(instances) - set(self.track.users.get(name, {})):
                self.track.publish(instance, Source(Kind.TRACK_BFD, name), delta=0,
                                   fault=None)
        if same_sessions and self.client is not None:
            current = self.client.sessions.snapshot()
            for name in self.track.users:
                self.track.on_change(SessionChanged(name, current.get(name, False), 0.0))
            return
        self.track.preset()
        if self._scope is not None:
            self._scope.cancel()

    def snapshot(self) -> dict:
        return self.client.snapshot() if self.client is not None else {}
