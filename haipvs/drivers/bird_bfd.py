"""BIRD's BFD sessions, read on the MAIN trio loop (never the VRRP thread): a client of
BIRD's control socket that sends `show bfd sessions` every poll interval on one connection
(no birdc subprocess per poll) and feeds the replies to haipvs.policy.bfd_sessions; the
rules (up only in state Up, missing = down, track_bfd's FAULT/weight, BFD_CHECK) are there.

BIRD has no push for BFD state, hence the poll: a change is seen at most one poll interval
after BIRD sees it. When the socket cannot be reached or breaks (BIRD stopped or
restarting) every session is down at once, one warning is logged per outage, and the
client reconnects with doubling back-off (poll interval .. RECONNECT_MAX), so a BIRD that is
down costs one connect attempt per back-off, not one per poll.

Only typed `SessionChanged` events leave this module (to `on_change`); the VRRP side
publishes them with `VrrpRuntime.set_tracker` (`TrackBfd` below), which only queues them
for the VRRP thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import structlog
import trio

from haipvs.policy.bfd_sessions import (
    SHOW_SESSIONS,
    BfdSessions,
    BirdReplyError,
    Polled,
    ReplyFramer,
    ReplyLine,
    SessionChanged,
    SessionSpec,
    Unreachable,
    parse_sessions,
    track_bfd,
)
from haipvs.policy.priority import Kind, Source

log = structlog.get_logger("haipvs.bird_bfd")

RECONNECT_MAX = 2.0  # seconds between connect attempts while BIRD is down
# A reply slower than this is treated as a broken socket: a wedged BIRD must not leave the
# sessions frozen in their last state.
REPLY_TIMEOUT_MIN = 1.0

OnChange = Callable[[SessionChanged], None]


class BirdBfdClient:
    def __init__(self, socket_path: str, specs: Iterable[SessionSpec], poll_interval: float,
                 on_change: OnChange) -> None:
        self.socket_path = socket_path
        self.poll_interval = poll_interval
        self.sessions = BfdSessions(specs)
        self.on_change = on_change
        self.connected = False
        self.polls = 0
        self._outage_logged = False

    def _feed(self, event: Polled | Unreachable) -> None:
        for change in self.sessions.handle(trio.current_time(), event):
            log.info("bfd_session_" + ("up" if change.up else "down"), session=change.name,
                     neighbor=self.sessions.specs[change.name].neighbor)
            self.on_change(change)

    def _lost(self, reason: str) -> None:
        self.connected = False
        if not self._outage_logged:
            log.warning("bird_bfd_unreachable", socket=self.socket_path, reason=reason,
                        effect="every BFD session is down until BIRD answers again")
            self._outage_logged = True
        self._feed(Unreachable(reason))

    async def _reply(self, stream: trio.SocketStream, framer: ReplyFramer) -> list[ReplyLine]:
        with trio.fail_after(max(REPLY_TIMEOUT_MIN, 10 * self.poll_interval)):
            while True:
                data = await stream.receive_some(65536)
                if not data:
                    raise trio.BrokenResourceError("BIRD closed the control socket")
                replies = framer.feed(data)
                if replies:
                    return replies[-1]

    async def _session(self, stream: trio.SocketStream) -> None:
        framer = ReplyFramer()
        await self._reply(stream, framer)  # 0001 "BIRD x ready."
        self.connected = True
        if self._outage_logged:
            log.info("bird_bfd_reachable", socket=self.socket_path)
        self._outage_logged = False
        while True:
            started = trio.current_time()
            await stream.send_all(SHOW_SESSIONS)
            rows = parse_sessions(await self._reply(stream, framer))
            self.polls += 1
            self._feed(Polled(tuple(rows)))
            await trio.sleep_until(started + self.poll_interval)

    async def run(self) -> None:
        backoff = self.poll_interval
        while True:
            try:
                stream = await trio.open_unix_socket(self.socket_path)
            except OSError as err:
                self._lost(f"connect: {err.strerror or err}")
                await trio.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX)
                continue
            backoff = self.poll_interval
            try:
                async with stream:
                    await self._session(stream)
            except (OSError, trio.BrokenResourceError, trio.TooSlowError,
                    BirdReplyError) as err:
                self._lost(f"{type(err).__name__}: {err}")
                await trio.sleep(backoff)

    def snapshot(self) -> dict:
        return {"socket": self.socket_path, "connected": self.connected, "polls": self.polls,
                "sessions": dict(self.sessions.snapshot())}


class TrackBfd:
    """track_bfd: publishes each using instance's contribution (policy.bfd_sessions.track_bfd)
    through `publish` (VrrpRuntime.set_tracker / preset_tracker). `users` maps a session name
    to {instance: (weight, reverse)}."""

    def __init__(self, users: dict[str, dict[str, tuple[int, bool]]],
                 publish: Callable[..., None]) -> None:
        self.users = users
        self.publish = publish

    def preset(self, publish: Callable[..., None] | None = None) -> None:
        """Every session is down until BIRD says otherwise (keepalived vrrp_track.c
        alloc_vrrp_tracked_bfd: bfd_up = false; initialise_track_bfd_state puts an instance
        with an unweighted track_bfd in FAULT from the start)."""
        for name in self.users:
            self._publish(name, False, publish or self.publish)

    def on_change(self, change: SessionChanged) -> None:
        self._publish(change.name, change.up, self.publish)

    def _publish(self, name: str, up: bool, publish: Callable[..., None]) -> None:
        for instance, (weight, reverse) in self.users.get(name, {}).items():
            contribution = track_bfd(name, weight, up, reverse)
            publish(instance, Source(Kind.TRACK_BFD, name), delta=contribution.delta,
                    fault=contribution.fault)
