"""VRRP receive path fuzz (tests/fuzz/vrrp_target.py): 50k seeded mutations of the committed
corpus, plus hypothesis over op lists and raw bytes (shrinks a failure to a minimal op list).
Nothing may raise; every datagram is accepted or dropped with a named reason."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.vrrp_target import (
    OP_KINDS,
    OUTCOMES,
    Entry,
    Harness,
    load_corpus,
    mutate,
    run,
    seed_entries,
)

CORPUS = load_corpus()
ops = st.lists(st.tuples(st.integers(0, OP_KINDS - 1), st.integers(0, 0xFFFF),
                         st.integers(0, 0xFFFF)), max_size=6)


def test_committed_corpus_is_what_the_encoder_builds_today():
    committed = {(e.name, e.family): e.data for e in CORPUS}
    assert committed == {(e.name, e.family): e.data for e in seed_entries()}


def test_every_corpus_seed_is_accepted():
    harness = Harness()
    # Owners ignore adverts (RFC 5798 §7.1) and priority 0 is a resignation: still accepted
    # by the ladder except for the owner's own VRID.
    outcomes = {e.name: harness.feed(e) for e in CORPUS}
    assert {n for n, o in outcomes.items() if o != "accepted"} == {
        "v2_owner-prio0", "v2_owner-prio100", "v2_owner-prio255"}
    assert {outcomes[n] for n in outcomes if n.startswith("v2_owner")} == {"owner_ignores"}


def test_50k_mutated_datagrams_are_accepted_or_dropped_with_a_reason():
    outcomes = run(50_000, seed=20261121, corpus=CORPUS)
    assert sum(outcomes.values()) == 50_000
    # Every rung of the ladder and the accepting path are reached from the corpus.
    assert set(outcomes) == OUTCOMES


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entry=st.sampled_from(CORPUS), mutation=ops)
def test_op_list_mutations_get_a_named_outcome(entry, mutation):
    assert Harness().feed(mutate(entry, mutation)) in OUTCOMES


@settings(max_examples=300, deadline=None)
@given(family=st.sampled_from((4, 6)), data=st.binary(max_size=120),
       hop_limit=st.integers(-1, 255))
def test_raw_bytes_get_a_named_outcome(family, data, hop_limit):
    assert Harness().feed(Entry("raw", family, data, hop_limit)) in OUTCOMES
