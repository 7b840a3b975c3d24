"""haipvs.dataclass_lean.dataclass behaves as dataclasses.dataclass (CPython's
Lib/dataclasses.py is the reference: _process_class, _hash_action, _frozen_get_del_attr,
_repr_fn), with the methods shared (issue 18)."""

from __future__ import annotations

import dataclasses
import pickle
import tracemalloc
from dataclasses import FrozenInstanceError, field

import pytest

from haipvs import dataclass_lean

DECORATORS = {"stdlib": dataclasses.dataclass, "lean": dataclass_lean.dataclass}


def make(kind: str, **params):
    deco = DECORATORS[kind]

    @deco(**params)
    class Point:
        x: int
        y: str = "a"
        hidden: int = field(default=0, repr=False)
        noise: int = field(default=0, compare=False)
        unhashed: int = field(default=0, hash=False)

    return Point


def outcome(call, *args):
    try:
        return ("value", call(*args))
    except Exception as exc:
        return (type(exc).__name__, str(exc))


def same_hash(one, other) -> bool:
    return hash(one) == hash(other)


@pytest.mark.parametrize("params", [{}, {"frozen": True}, {"frozen": True, "slots": True},
                                    {"slots": True}, {"frozen": True, "kw_only": True},
                                    {"frozen": True, "repr": False}, {"eq": False},
                                    {"frozen": True, "eq": False}])
def test_same_behaviour_as_the_standard_decorator(params):
    results = {}
    for kind in DECORATORS:
        cls = make(kind, **params)
        kw = params.get("kw_only", False)
        a = cls(x=1, y="b") if kw else cls(1, "b")
        b = cls(x=1, y="b", noise=5) if kw else cls(1, "b", noise=5)
        c = cls(x=1, y="c") if kw else cls(1, "c")
        d = cls(x=1, y="b", unhashed=7) if kw else cls(1, "b", unhashed=7)
        e = cls(x=1) if kw else cls(1)  # the one the assignments below may change
        rows = [
            a == b, a == c, a != c, a == d, a == object(), a.__eq__(object()),
            outcome(same_hash, a, b), outcome(same_hash, a, d),
            cls.__hash__ is None,
            repr(a).replace(cls.__qualname__, "Q") if params.get("repr", True) else None,
            [f.name for f in dataclasses.fields(cls)],
            dataclasses.asdict(dataclasses.replace(a, x=3)),
            cls.__match_args__, "__slots__" in cls.__dict__,
            outcome(setattr, e, "x", 9), outcome(delattr, e, "y"),
            outcome(setattr, e, "not_a_field", 1),
        ]
        results[kind] = rows
    if params.get("frozen") and params.get("slots"):
        # CPython 3.11's frozen __setattr__ calls super(cls, self) with the class from before
        # slots were added, so any name that is not a field gives that TypeError
        # (fixed in later CPython releases); here it is refused as a frozen field is
        assert results["stdlib"][-1][0] == "TypeError"
        assert results["lean"][-1] == ("FrozenInstanceError",
                                       "cannot assign to field 'not_a_field'")
        results["stdlib"][-1] = results["lean"][-1]
    assert results["lean"] == results["stdlib"]


def test_explicit_methods_are_kept_as_the_standard_decorator_keeps_them():
    for frozen in (False, True):
        @dataclass_lean.dataclass(frozen=frozen)
        class Own:
            a: int

            def __eq__(self, other):
                return "own eq"

            def __repr__(self):
                return "own repr"

        @dataclass_lean.dataclass(frozen=True)
        class OwnHash:
            a: int

            def __hash__(self):
                return 42

        assert (Own(1) == Own(2)) == "own eq"
        assert repr(Own(1)) == "own repr"
        # a class body with __eq__ and no __hash__: the standard decorator hashes a frozen
        # class by its fields and makes a mutable one unhashable (_hash_action)
        assert (Own.__hash__ is None) is (not frozen)
        assert hash(OwnHash(1)) == 42


def test_frozen_subclass_and_plain_subclass():
    @dataclass_lean.dataclass(frozen=True)
    class Base:
        a: int

    @dataclass_lean.dataclass(frozen=True)
    class Child(Base):
        b: int = 0

    class Plain(Base):
        pass

    assert Child(1, 2) != Base(1)  # other class: NotImplemented both ways, then identity
    assert Child(1, 2) == Child(1, 2) and hash(Child(1, 2)) == hash(Child(1, 2))
    assert repr(Child(1, 2)).endswith("Child(a=1, b=2)")
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'a'"):
        Plain(1).a = 2
    plain = Plain(1)
    plain.extra = 5  # the standard decorator lets a plain subclass set its own attributes
    assert plain.extra == 5


def test_a_class_without_fields_compares_and_hashes_as_standard():
    for kind, deco in DECORATORS.items():
        empty = deco(frozen=True)(type(f"Empty{kind}", (), {}))
        assert empty() == empty() and hash(empty()) == hash(empty()) == hash(())
        assert repr(empty()).endswith(f"Empty{kind}()")


def test_a_container_holding_itself_repr_is_dots():
    @dataclass_lean.dataclass
    class Node:
        children: list

    node = Node([])
    node.children.append(node)
    assert repr(node).endswith("Node(children=[...])")


def test_instances_pickle_and_sort_as_before():
    assert pickle.loads(pickle.dumps(Pickled(1, "x"))) == Pickled(1, "x")
    ordered = dataclass_lean.dataclass(order=True, frozen=True)(type(
        "Ordered", (), {"__annotations__": {"a": "int"}}))
    assert ordered(1) < ordered(2)


@dataclass_lean.dataclass(frozen=True, slots=True)
class Pickled:
    a: int
    b: str


def test_a_lean_class_costs_less_than_half_of_a_standard_one():
    def cost(deco) -> int:
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            kept = []
            for index in range(50):
                kept.append(deco(frozen=True)(type(f"C{index}", (), {"__annotations__": {
                    "a": "int", "b": "str", "c": "tuple", "d": "float", "e": "bool"}})))
            return tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()

    cost(dataclasses.dataclass)  # warm caches (dataclasses' own first-use allocations)
    assert cost(dataclass_lean.dataclass) < cost(dataclasses.dataclass) * 0.6
