"""`dataclasses.dataclass` with the comparison, hash, repr and frozen-assignment methods shared
by every class instead of generated for each (issue 18: an idle director's memory).

The standard decorator writes the source of `__eq__`, `__hash__`, `__repr__`, `__setattr__`
and `__delattr__` for each class and compiles it: a function, a code object and closure
cells each, about 7 KiB per frozen class with five fields (measured with tracemalloc). An
idle director loads about 260 haipvs dataclasses, so 1.8 MiB of its RSS were these methods.
Here the standard decorator still makes `__init__`, the fields, `__match_args__` and the
slots, and one shared function per method reads the class's fields through an
`operator.attrgetter` kept on the class (`_dataclass_key`, C code: no slower than the
generated tuple for the sizes used here).

Behaviour is the standard one, pinned by tests/test_dataclass_lean.py against
`dataclasses.dataclass` itself: `__eq__` compares instances of the same class field by field
(fields with compare=False left out) and returns NotImplemented otherwise; a frozen class
with eq hashes the compared fields (a field's `hash=` overrides), a mutable one is
unhashable; a class that writes its own `__eq__`, `__hash__` or `__repr__` keeps it; repr
shows the fields with repr=True as `QualName(a=1, b='x')`, and a container holding itself as
`...`; assigning or deleting an attribute of a frozen instance raises FrozenInstanceError
with the standard message, and a plain subclass may still set its own attributes.
`dataclasses.fields`, `replace`, `asdict` and `is_dataclass` work unchanged.
`order=True` and `unsafe_hash=True` (never used here) go to the standard decorator whole.
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

_T = TypeVar("_T", bound=type)


def _no_fields(obj: object) -> tuple[()]:
    return ()


def _getter(names: list[str]) -> Any:
    if not names:
        return staticmethod(_no_fields)  # a plain function on the class would bind to self
    # attrgetter of one name returns the value itself, not a tuple: still right for == and
    # hash, and one tuple fewer per call
    return attrgetter(*names)


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        key = self._dataclass_key
        return key(self) == key(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(self._dataclass_hash_key(self))


@reprlib.recursive_repr()
def _repr(self: Any) -> str:
    values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._dataclass_repr_names)
    return f"{self.__class__.__qualname__}({values})"


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    cls = type(self)
    if cls.__dict__.get("__setattr__") is _frozen_setattr or name in cls.__dataclass_fields__:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
    object.__setattr__(self, name, value)  # a plain subclass's own attribute


def _frozen_delattr(self: Any, name: str) -> None:
    cls = type(self)
    if cls.__dict__.get("__delattr__") is _frozen_delattr or name in cls.__dataclass_fields__:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
    object.__delattr__(self, name)


def _explicit_hash(cls: type) -> bool:
    # what dataclasses._process_class calls has_explicit_hash: a class body with __eq__ but
    # no __hash__ gets __hash__ = None from type(), which is not a choice of its author
    if "__hash__" not in cls.__dict__:
        return False
    return not (cls.__dict__["__hash__"] is None and "__eq__" in cls.__dict__)


def _finish(cls: type, *, repr: bool, eq: bool, frozen: bool, explicit_hash: bool,
            own: frozenset[str]) -> type:
    fields = dataclasses.fields(cls)
    if eq and "__eq__" not in own:
        cls._dataclass_key = _getter([f.name for f in fields if f.compare])  # type: ignore[attr-defined]
        cls.__eq__ = _eq  # type: ignore[assignment]
    if eq and not explicit_hash:
        if frozen:
            cls._dataclass_hash_key = _getter(  # type: ignore[attr-defined]
                [f.name for f in fields if (f.compare if f.hash is None else f.hash)])
            cls.__hash__ = _hash  # type: ignore[assignment]
        else:
            cls.__hash__ = None  # type: ignore[assignment]
    if repr and "__repr__" not in own:
        cls._dataclass_repr_names = tuple(f.name for f in fields if f.repr)  # type: ignore[attr-defined]
        cls.__repr__ = _repr  # type: ignore[assignment]
    if frozen:
        cls.__setattr__ = _frozen_setattr  # type: ignore[assignment]
        cls.__delattr__ = _frozen_delattr  # type: ignore[assignment]
    return cls


@overload
def dataclass(cls: _T, /) -> _T: ...
@overload
def dataclass(*, init: bool = True, repr: bool = True, eq: bool = True, order: bool = False,
              unsafe_hash: bool = False, frozen: bool = False, match_args: bool = True,
              kw_only: bool = False, slots: bool = False,
              weakref_slot: bool = False) -> Callable[[_T], _T]: ...


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def dataclass(cls: Any = None, /, *, init: bool = True, repr: bool = True, eq: bool = True,
              order: bool = False, unsafe_hash: bool = False, frozen: bool = False,
              match_args: bool = True, kw_only: bool = False, slots: bool = False,
              weakref_slot: bool = False) -> Any:
    """Drop-in for `dataclasses.dataclass` (same arguments, same behaviour; see above)."""
    def wrap(cls: _T) -> _T:
        if order or unsafe_hash:
            return dataclasses.dataclass(  # type: ignore[call-overload,no-any-return]
                cls, init=init, repr=repr, eq=eq, order=order, unsafe_hash=unsafe_hash,
                frozen=frozen, match_args=match_args, kw_only=kw_only, slots=slots,
                weakref_slot=weakref_slot)
        own = frozenset(name for name in ("__eq__", "__repr__") if name in cls.__dict__)
        explicit_hash = _explicit_hash(cls)
        made = dataclasses.dataclass(cls, init=init, repr=False, eq=False, frozen=frozen,
                                     match_args=match_args, kw_only=kw_only, slots=slots,
                                     weakref_slot=weakref_slot)
        return _finish(made, repr=repr, eq=eq, frozen=frozen, explicit_hash=explicit_hash,
                       own=own)

    return wrap if cls is None else wrap(cls)
