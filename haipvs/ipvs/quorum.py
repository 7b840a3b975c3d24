"""Re-export: the quorum rule lives in haipvs/policy/quorum.py (pure policy)."""

from haipvs.policy.quorum import (
    QuorumChange,
    QuorumInput,
    QuorumTracker,
    initial_quorum,
    next_quorum,
)

__all__ = ["QuorumChange", "QuorumInput", "QuorumTracker", "initial_quorum", "next_quorum"]
