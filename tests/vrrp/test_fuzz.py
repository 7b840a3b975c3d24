"""A 50k sample of bench/fuzz_vrrp.py: nothing raises, every datagram gets a named outcome."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from haipvs.vrrp.core import DropReason

FUZZ_PATH = Path(__file__).resolve().parents[2] / "bench" / "fuzz_vrrp.py"


def _load_fuzzer():
    spec = importlib.util.spec_from_file_location("fuzz_vrrp", FUZZ_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_50k_random_and_mutated_datagrams_are_accepted_or_dropped_with_a_reason():
    outcomes = _load_fuzzer().run(50_000, seed=20261121)
    assert sum(outcomes.values()) == 50_000
    assert set(outcomes) <= {"accepted", *DropReason}
    # The mutation mix reaches every rung of the ladder and the accepting path.
    assert set(outcomes) == {"accepted", *DropReason}
