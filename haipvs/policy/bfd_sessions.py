"""BFD session state read from BIRD 2, pure: the control-socket framing, the `show bfd
sessions` table, the up/down rule and keepalived's track_bfd rule.

haipvs does not run BFD itself (keepalived 2.2.7 forks its own BFD process, keepalived/bfd/):
the routing daemon already runs the sessions, so haipvs reads them from BIRD's control socket
(issue 17). BIRD has no push for BFD state, so the driver (haipvs.drivers.bird_bfd) polls
`show bfd sessions` and feeds each reply, or the loss of the socket, to `BfdSessions.handle`;
the outputs are typed `SessionChanged` events. No sockets, threads or clock here: time is
passed in.

BIRD's control protocol (BIRD 2 doc "Remote control", sysdep/unix/main.c cli_*): every reply
line starts with a 4-digit code; `-` after the code means more lines follow, a space means
the last line; a line starting with a space continues the previous code. 0000 is "OK, end",
8xxx/9xxx are run-time / syntax errors. `show bfd sessions` answers 1020 with one block per
`protocol bfd`: a "name:" line, a header, then one row per neighbor:
    IP address   Interface  State  Since  Interval  Timeout
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from haipvs.dataclass_lean import dataclass
from haipvs.policy.priority import Contribution, weighted

# BIRD 2 bfd.h bfd_state_names: AdminDown, Down, Init, Up. Only Up is up (RFC 5880 6.2):
# Init is a session not yet confirmed by the peer, AdminDown one switched off.
UP_STATE = "Up"
SHOW_SESSIONS = b"show bfd sessions\n"
SESSIONS_CODE = "1020"
OK_END = "0000"


class BirdReplyError(ValueError):
    """BIRD answered an error code (8xxx run-time, 9xxx syntax/parse)."""


@dataclass(frozen=True)
class ReplyLine:
    code: str  # the 4 digits; a continuation line (leading space) carries its block's code
    last: bool  # the code was followed by a space: the reply ends here
    text: str


class ReplyFramer:
    """Cuts the byte stream of the control socket into whole replies (lists of lines)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._lines: list[ReplyLine] = []
        self._code = ""

    def feed(self, data: bytes) -> list[list[ReplyLine]]:
        self._buffer += data
        replies: list[list[ReplyLine]] = []
        while b"\n" in self._buffer:
            raw, _, self._buffer = self._buffer.partition(b"\n")
            line = raw.decode("utf-8", "replace")
            if len(line) >= 5 and line[:4].isdigit() and line[4] in "- ":
                self._code = line[:4]
                self._lines.append(ReplyLine(self._code, line[4] == " ", line[5:]))
            elif line.startswith(" ") or line == "":
                self._lines.append(ReplyLine(self._code, False, line[1:]))
            else:
                raise BirdReplyError(f"not a BIRD control-socket line: {line!r}")
            if self._lines[-1].last:
                replies.append(self._lines)
                self._lines = []
        return replies


@dataclass(frozen=True)
class SessionRow:
    protocol: str
    neighbor: str
    interface: str
    state: str


def parse_sessions(reply: Iterable[ReplyLine]) -> list[SessionRow]:
    """The rows of one `show bfd sessions` reply; an error code raises BirdReplyError."""
    rows: list[SessionRow] = []
    protocol = ""
    for line in reply:
        if line.code[0] in "89":
            raise BirdReplyError(f"BIRD {line.code}: {line.text.strip()}")
        if line.code != SESSIONS_CODE:
            continue
        text = line.text.strip()
        if not text or text.startswith("IP address"):
            continue
        fields = text.split()
        if len(fields) == 1 and text.endswith(":"):
            protocol = text[:-1]
            continue
        if len(fields) < 3:
            continue
        rows.append(SessionRow(protocol, fields[0], fields[1], fields[2]))
    return rows


@dataclass(frozen=True)
class SessionSpec:
    """A configured session (config `bfd.sessions[]`): BIRD's session to `neighbor`, on
    `interface` when several BIRD sessions go to the same address."""

    name: str
    neighbor: str
    interface: str | None = None


def session_up(rows: Iterable[SessionRow], spec: SessionSpec) -> bool:
    """Up only when BIRD lists a matching session in state Up; missing means down (a session
    BIRD does not run cannot vouch for the neighbor). Several matching rows (several
    `protocol bfd`): up if any is Up."""
    return any(row.neighbor == spec.neighbor and row.state == UP_STATE
               and (spec.interface is None or row.interface == spec.interface)
               for row in rows)


# ---- inputs and outputs of BfdSessions --------------------------------------------------


@dataclass(frozen=True)
class Polled:
    """One parsed `show bfd sessions` reply."""

    rows: tuple[SessionRow, ...]


@dataclass(frozen=True)
class Unreachable:
    """BIRD's socket is gone (BIRD stopped, restarting, or an error reply): every session is
    down, as keepalived treats a BFD process that died (bfd_daemon.c: sessions reset)."""

    reason: str


@dataclass(frozen=True)
class SessionChanged:
    name: str
    up: bool
    at: float


class BfdSessions:
    """The configured sessions' up/down state. Every session starts down (keepalived
    vrrp_track.c alloc_vrrp_tracked_bfd: bfd_up = false) and each change is output once."""

    def __init__(self, specs: Iterable[SessionSpec]) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.up: dict[str, bool] = {name: False for name in self.specs}
        self.since: dict[str, float | None] = {name: None for name in self.specs}

    def handle(self, now: float, event: Polled | Unreachable) -> list[SessionChanged]:
        if isinstance(event, Polled):
            states = {name: session_up(event.rows, spec) for name, spec in self.specs.items()}
        else:
            states = dict.fromkeys(self.specs, False)
        changes: list[SessionChanged] = []
        for name, up in states.items():
            if up != self.up[name]:
                self.up[name] = up
                self.since[name] = now
                changes.append(SessionChanged(name, up, now))
        return changes

    def snapshot(self) -> Mapping[str, bool]:
        return dict(self.up)


# ---- the rules that use a session's state ------------------------------------------------


def track_bfd(name: str, weight: int, up: bool, reverse: bool = False) -> Contribution:
    """keepalived track_bfd (vrrp_track.c initialise_track_bfd_state, vrrp_scheduler.c
    vrrp_handle_bfd_event): no weight -> FAULT while the session is down (with `reverse`,
    while up); a positive weight is added while up, a negative one while down, which is
    `weighted`, the rule track_interface and track_script share: the event handler's
    +/- abs(weight) x multiplier on each change moves between exactly those two values."""
    failure = f"track_bfd {name} is {'up' if reverse else 'down'}"
    return weighted(weight, up, failure, reverse)

