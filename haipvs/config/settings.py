"""Settings declared once: each model dataclass attribute carries its own YAML spec.

A setting is one line in a frozen model dataclass:

    priority: int = setting(Int(1, 255), 100, "higher wins; 255 = address owner")

`setting(...)` returns a `dataclasses.field` whose default is the model default and whose
metadata holds the spec (kind, default when the key is absent, doc). `model_section(cls, ...)`
derives the Section's field table from `dataclasses.fields(cls)`, in attribute order, and a
`make` that builds `cls` from the parsed values. So the model, the parser, `haipvs schema` and
docs/config.md cannot disagree about a setting's name, default or order.

Why the model carries the spec, and not the reverse (dataclasses generated from the tables with
`dataclasses.make_dataclass`): the model is what the rest of haipvs reads. Kept as ordinary
hand-written dataclasses, every attribute has a static type that mypy, pyright and readers see,
methods and properties (`VirtualServer.key`, `HttpUrl.status_ok`) sit in their class, and
`haipvs/config/model.py` stays the one import for consumers. Generated classes would hide all of
that behind runtime magic. (One cost: type checkers treat every `= setting(...)` as having a
default, so a missing required argument is caught at run time, not statically.)

Attribute and YAML key are usually one-to-one. The exceptions are explicit:

- `setting(..., key="url")`: the YAML key differs from the attribute (`HttpGet.urls`).
- `setting(..., model_default=...)`: the model default differs from the value used when the key
  is absent, because `derive` computes the attribute (`version` None means "2, or 3 for IPv6").
- `inputs(Field(...), ...)`: several YAML keys feed one attribute, computed by the section's
  `derive` (`persistence` + `persistence_timeout` -> `VirtualServer.persistence_timeout`).
- `derived()`: no YAML key; `derive` computes it (`VrrpInstance.family`, `Config.source`).
- `override(Base, "name", default)`: a subclass changes an inherited setting's default.

Cross-field rules stay in each section's `check`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from haipvs.config.spec import REQUIRED, Field, Kind, Section, Values
from haipvs.dataclass_lean import dataclass

SPEC = "haipvs.config.spec"  # the metadata key
_SAME: Any = object()  # model_default: the same as the YAML default


@dataclass(frozen=True)
class Setting:
    """One YAML key (the attribute's name unless `key` is given)."""

    kind: Kind
    default: Any
    doc: str
    doc_default: str | None = None
    key: str | None = None

    def field(self, attribute: str) -> Field:
        return Field(self.key or attribute, self.kind, self.default, self.doc, self.doc_default)


@dataclass(frozen=True)
class Inputs:
    """Several YAML keys whose values `derive` combines into one attribute."""

    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Derived:
    """No YAML key: `derive` computes the attribute from other values."""


def _model_field(spec: Setting | Inputs | Derived, default: Any) -> Any:
    metadata = {SPEC: spec}
    if default is REQUIRED or default is dataclasses.MISSING:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def setting(
    kind: Kind,
    default: Any = REQUIRED,
    doc: str = "",
    *,
    doc_default: str | None = None,
    key: str | None = None,
    model_default: Any = _SAME,
) -> Any:
    """An attribute read from one YAML key. `default` is the value when the key is absent
    (REQUIRED: it must be present); it is also the model default unless `model_default` is
    given (REQUIRED there means the model has no default)."""
    spec = Setting(kind, default, doc, doc_default, key)
    return _model_field(spec, default if model_default is _SAME else model_default)


def inputs(*fields: Field, default: Any) -> Any:
    """An attribute that `derive` computes from several YAML keys, listed in file order."""
    return _model_field(Inputs(fields), default)


def derived(default: Any = dataclasses.MISSING) -> Any:
    """An attribute with no YAML key, computed by `derive`."""
    return _model_field(Derived(), default)


def override(base: type, name: str, default: Any) -> Any:
    """`base`'s setting `name` with another default, for a subclass: the kind and doc are not
    repeated."""
    spec = spec_of(next(f for f in dataclasses.fields(base) if f.name == name))
    if not isinstance(spec, Setting):
        raise TypeError(f"{base.__name__}.{name} is not a single-key setting")
    return _model_field(dataclasses.replace(spec, default=default), default)


def spec_of(attribute: dataclasses.Field[Any]) -> Setting | Inputs | Derived:
    try:
        return attribute.metadata[SPEC]
    except KeyError:
        raise TypeError(
            f"model attribute {attribute.name!r} has no setting(), inputs() or derived()"
        ) from None


def yaml_fields(cls: type) -> tuple[Field, ...]:
    """The section's field table: the YAML keys of `cls`'s attributes, in attribute order."""
    out: list[Field] = []
    for attribute in dataclasses.fields(cls):
        spec = spec_of(attribute)
        if isinstance(spec, Setting):
            out.append(spec.field(attribute.name))
        elif isinstance(spec, Inputs):
            out.extend(spec.fields)
    return tuple(out)


def _maker(cls: type, derive: Callable[[Values], dict[str, Any]] | None) -> Any:
    direct: list[tuple[str, str]] = []  # (attribute, YAML key)
    computed: set[str] = set()
    for attribute in dataclasses.fields(cls):
        spec = spec_of(attribute)
        if isinstance(spec, Setting):
            direct.append((attribute.name, spec.key or attribute.name))
        else:
            computed.add(attribute.name)
    if computed and derive is None:
        raise TypeError(f"{cls.__name__}: {sorted(computed)} need a derive function")

    def make(v: Values) -> Any:
        kwargs = {name: v[key] for name, key in direct}
        if derive is not None:
            extra = derive(v)
            missing = computed - extra.keys()
            if missing:  # a programming error: fail loudly rather than use a model default
                raise TypeError(f"{cls.__name__}: derive gave no {sorted(missing)}")
            kwargs.update(extra)
        return cls(**kwargs)

    return make


def model_section(
    cls: type,
    name: str,
    title: str,
    doc: str,
    *,
    derive: Callable[[Values], dict[str, Any]] | None = None,
    check: Callable[[Values], None] | None = None,
    rules: tuple[str, ...] = (),
    renamed: Mapping[str, str] | None = None,
    shared: bool = False,
) -> Section:
    """The Section of model class `cls`. `derive(values)` gives the attributes that are not
    read from one key as-is (and may override ones that are). `shared`: see Section."""
    return Section(
        name,
        title,
        doc,
        yaml_fields(cls),
        _maker(cls, derive),
        check=check,
        rules=rules,
        renamed=dict(renamed or {}),
        model=cls,
        shared=shared,
    )
