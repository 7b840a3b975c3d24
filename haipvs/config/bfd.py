"""`bfd`: BFD sessions read from the routing daemon (BIRD 2's control socket) instead of run
by haipvs (issue 17), and their use by `vrrp_instances[].track_bfd`. (BFD_CHECK on a real
server is still refused: limits.BFD_CHECK_REFUSED.)

keepalived 2.2.7 runs BFD itself: `bfd_instance NAME { neighbor_ip ...; min_rx; min_tx;
multiplier; ... }` (keepalived/bfd/bfd_parser.c). Here a session is only a name for BIRD's
session to `neighbor`; its timers belong to BIRD's `protocol bfd` (docs/scale-out.md "BFD
from BIRD"). The state rules are haipvs/policy/bfd_sessions.py.
"""

# setting() returns a dataclasses.field (see settings.py); ruff only knows field() itself.

from __future__ import annotations

from haipvs import limits
from haipvs.config.common import ABS_PATH, IFNAME, TRACKER_WEIGHT, IPAddress
from haipvs.config.compound import ListOf, Nested
from haipvs.config.kinds import Bool, Float, IPAddr, Text
from haipvs.config.settings import model_section, setting
from haipvs.config.spec import REQUIRED, Values
from haipvs.dataclass_lean import dataclass

# keepalived bfd_parser.c: an instance name is at most BFD_INAME_MAX - 1 characters
BFD_NAME = Text(limits.BFD_NAME_MAX, r"[A-Za-z0-9_.:-]+", "letters, digits, '_', '.', ':', '-'")


@dataclass(frozen=True)
class BfdSession:
    name: str = setting(BFD_NAME, doc="unique name, used in `track_bfd` (keepalived's "
                        "bfd_instance name)")
    neighbor: IPAddress = setting(IPAddr(), doc="the neighbor of BIRD's BFD session "
                                  "(keepalived's neighbor_ip)")
    interface: str | None = setting(IFNAME, None, "BIRD's session on this interface only, "
                                    "when several go to the same neighbor",
                                    doc_default="any interface")


BFD_SESSION = model_section(
    BfdSession,
    "bfd_session",
    "A BFD session",
    "A name for the routing daemon's BFD session to `neighbor`: up only while BIRD lists it "
    "in state Up; a session BIRD does not list is down.",
)


@dataclass(frozen=True)
class Bfd:
    """BFD sessions read from BIRD (docs/scale-out.md "BFD from BIRD")."""

    control_socket: str = setting(ABS_PATH, limits.BFD_DEFAULT_CONTROL_SOCKET,
                                  "BIRD's control socket (bird -s)")
    poll_interval: float = setting(
        Float(limits.BFD_POLL_INTERVAL_MIN, limits.BFD_POLL_INTERVAL_MAX),
        limits.BFD_DEFAULT_POLL_INTERVAL,
        "seconds between two `show bfd sessions` (BIRD has no push): a change is seen at most "
        "this long after BIRD sees it")
    sessions: tuple[BfdSession, ...] = setting(ListOf(Nested(BFD_SESSION), min_items=1),
                                               REQUIRED, "the sessions, by name",
                                               model_default=())


def _check(v: Values) -> None:
    seen: dict[str, int] = {}
    for j, session in v.items("sessions"):
        first = seen.setdefault(session.name, j)
        if first != j:
            v.error(("sessions", j, "name"), f"{session.name!r} is already defined at line "
                    f"{v.line('sessions', first)}")


BFD = model_section(
    Bfd,
    "bfd",
    "BFD from the routing daemon",
    "BFD sessions read from BIRD's control socket (keepalived runs its own BFD: "
    "`bfd_instance`; haipvs leaves BFD to the routing daemon, docs/scale-out.md).",
    check=_check,
    rules=("A session name is defined once.",),
)


@dataclass(frozen=True)
class BfdRef:
    """keepalived track_bfd (vrrp_parser.c, vrrp_track.c): `NAME [weight W [reverse]]`."""

    name: str = setting(BFD_NAME, doc="name of the `bfd.sessions` entry")
    weight: int = setting(TRACKER_WEIGHT, 0, "0: FAULT while the session is down; otherwise "
                          "added while up (positive) or while down (negative)")
    reverse: bool = setting(Bool(), False, "the weight applies reversed (up is the fault)")


BFD_REF = model_section(
    BfdRef,
    "bfd_ref",
    "track_bfd reference",
    "An instance's use of a BFD session, by name (keepalived `track_bfd`); `peer` or the "
    "mapping form.",
)


def check_config(v: Values) -> None:
    """Every `track_bfd` names a `bfd.sessions` entry (called by the file's check)."""
    known = ({s.name for s in v["bfd"].sessions}
             if v.ok("bfd") and v["bfd"] is not None else set())
    where = "bfd.sessions" if known else "bfd.sessions (there is no bfd section)"
    for i, instance in v.items("vrrp_instances"):
        for j, ref in enumerate(getattr(instance, "track_bfd", ())):
            if ref.name not in known:
                v.error(("vrrp_instances", i, "track_bfd", j),
                        f"no {where} entry named {ref.name!r}")
