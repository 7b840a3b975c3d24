"""Chaos runner for haipvs directors: seeded random faults, an independent observer, and the
one-master-one-VIP-owner invariant (see docs/reliability.md)."""
