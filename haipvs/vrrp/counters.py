"""Plain counters the daemon dumps: per instance and per interface (shared socket)."""

from __future__ import annotations

from collections import Counter
from dataclasses import field
from typing import Any

from haipvs.dataclass_lean import dataclass


@dataclass
class InterfaceCounters:
    """Datagrams that could not be attributed to a configured instance."""

    received: int = 0
    drops: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "drops": {str(k): v for k, v in sorted(self.drops.items())},
        }


@dataclass
class InstanceCounters:
    adverts_sent: int = 0
    priority_zero_sent: int = 0
    adverts_received: int = 0  # passed the ladder
    priority_zero_received: int = 0
    drops: Counter[str] = field(default_factory=Counter)  # DropReason value -> count
    notes: Counter[str] = field(default_factory=Counter)  # Note value -> count
    transitions: int = 0
    became_master: int = 0
    released_master: int = 0
    last_transition_at: float | None = None  # the driver's monotonic `now`

    def as_dict(self) -> dict[str, Any]:
        return {
            "adverts_sent": self.adverts_sent,
            "priority_zero_sent": self.priority_zero_sent,
            "adverts_received": self.adverts_received,
            "priority_zero_received": self.priority_zero_received,
            "drops": {str(k): v for k, v in sorted(self.drops.items())},
            "notes": {str(k): v for k, v in sorted(self.notes.items())},
            "transitions": self.transitions,
            "became_master": self.became_master,
            "released_master": self.released_master,
            "last_transition_at": self.last_transition_at,
        }
