"""Every script a config runs, and the config with keepalived's script verdicts applied.

`configured_scripts(config)` finds each script setting (every `Argv` setting anywhere in the
model, so a script key added later is covered without a change here), with its config path
and the user it runs as: the `user` of the block holding it (vrrp_script, misc_check), a
notify-type script's own (config/notify_script.py: keepalived's `SCRIPT USER [GROUP]`,
lib/notify.c notify_script_init), None for one without (the default script user).

`apply_scripts(...)` returns the config as the daemon runs it, as keepalived does at load
(lib/notify.c check_script_secure and its callers in vrrp.c / check_misc.c):
- a disabled script is dropped: an optional one (notify_*, FIFO scripts) becomes unset; a
  block that is nothing without it (a vrrp_script, a misc_check) is removed, and with a
  vrrp_script every instance's `track_script` reference to it (vrrp.c
  check_vrrp_script_security: free_track_script), so the instance runs as if it had none;
- argv[0] becomes the path keepalived resolved (path search, realpath);
- every `user` left unset (a block's, a notify-type script's), and `global.script_user`,
  become the default script user, so the runners need nothing but the config.
Pure: the decisions come in as data (haipvs/script_creds.py makes them).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping
from typing import Any

from haipvs.config.kinds import Argv
from haipvs.config.model import Config
from haipvs.config.notify_script import ScriptCommand
from haipvs.config.settings import SPEC, Setting
from haipvs.config.spec import REQUIRED
from haipvs.dataclass_lean import dataclass


@dataclass(frozen=True)
class ConfiguredScript:
    where: str  # config path, e.g. "vrrp_scripts[chk_nginx].script"
    argv: tuple[str, ...]
    user: str | None  # the holding block's own `user`; None: the default script user


def _setting(field: dataclasses.Field) -> Setting | None:
    spec = field.metadata.get(SPEC)
    return spec if isinstance(spec, Setting) else None


def _key(field: dataclasses.Field) -> str:
    spec = _setting(field)
    return spec.key if spec is not None and spec.key else field.name


def _item_path(at: str, items: tuple, index: int) -> str:
    """A list item's path: by its name (`vrrp_scripts[chk]`), a checker by its YAML key
    (`real_servers[0].misc_check`, indexed when a server has several of that kind), else by
    its index."""
    item = items[index]
    name = getattr(item, "name", None)
    if isinstance(name, str):
        return f"{at}[{name}]"
    kind = getattr(type(item), "kind", None)
    if isinstance(kind, str):
        parent = at.rsplit(".", 1)[0]
        same = [i for i, other in enumerate(items) if getattr(type(other), "kind", None) == kind]
        return f"{parent}.{kind}" if len(same) == 1 else f"{parent}.{kind}[{same.index(index)}]"
    return f"{at}[{index}]"


def _is_script(field: dataclasses.Field) -> bool:
    spec = _setting(field)
    return spec is not None and isinstance(spec.kind, Argv)


@dataclass(frozen=True)
class _Field:
    name: str
    key: str
    script: bool
    required: bool  # a script the block is nothing without (vrrp_script, misc_check)


@functools.cache
def _plan(cls: type) -> tuple[tuple[_Field, ...], frozenset[str]]:
    """Per model class, once: its fields as the walks need them, and its field names (a
    config with thousands of real servers is walked in milliseconds, not seconds)."""
    fields = []
    for field in dataclasses.fields(cls):
        if field.init:
            spec = _setting(field)
            fields.append(_Field(field.name, _key(field), _is_script(field),
                                 spec is not None and spec.default is REQUIRED))
    return tuple(fields), frozenset(f.name for f in dataclasses.fields(cls))


def _is_model(value: Any) -> bool:
    return hasattr(type(value), "__dataclass_fields__")


def _walk(obj: Any, where: str) -> Iterator[ConfiguredScript]:
    fields, names = _plan(type(obj))
    user = getattr(obj, "user", None) if "user" in names else None
    for field in fields:
        value = getattr(obj, field.name)
        if value is None or isinstance(value, str | int | float):
            continue
        at = f"{where}.{field.key}" if where else field.key
        if field.script:
            own = value.run_as if isinstance(value, ScriptCommand) else None
            yield ConfiguredScript(at, tuple(value), own or user)
        elif _is_model(value):
            yield from _walk(value, at)
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                if _is_model(item):
                    yield from _walk(item, _item_path(at, value, index))


def configured_scripts(config: Config) -> list[ConfiguredScript]:
    """Every script of `config`, in file-section order."""
    return list(_walk(config, ""))


_REMOVE = object()  # a block removed with its required script


def _apply(obj: Any, where: str, disabled: frozenset[str], paths: Mapping[str, str],
           default_user: str | None) -> Any:
    fields, names = _plan(type(obj))
    changes: dict[str, Any] = {}
    holds_script = False
    for field in fields:
        value = getattr(obj, field.name)
        if value is None or isinstance(value, str | int | float):
            continue
        at = f"{where}.{field.key}" if where else field.key
        if field.script:
            holds_script = True
            if at in disabled:
                if field.required:
                    return _REMOVE
                changes[field.name] = None
            elif isinstance(value, ScriptCommand):
                new_script = _notify_script(value, paths.get(at), default_user)
                if new_script != value:
                    changes[field.name] = new_script
            elif at in paths and paths[at] != value[0]:
                changes[field.name] = (paths[at], *value[1:])
        elif _is_model(value):
            new = _apply(value, at, disabled, paths, default_user)
            if new is not value and new is not _REMOVE:
                changes[field.name] = new
        elif isinstance(value, tuple) and any(_is_model(i) for i in value):
            items = []
            for index, item in enumerate(value):
                if _is_model(item):
                    item = _apply(item, _item_path(at, value, index), disabled, paths,
                                  default_user)
                if item is not _REMOVE:
                    items.append(item)
            if len(items) != len(value) or any(a is not b for a, b in zip(items, value,
                                                                            strict=True)):
                changes[field.name] = tuple(items)
    if (holds_script or "script_user" in names) and default_user is not None:
        for name in ("user", "script_user"):
            if name in names and getattr(obj, name) is None:
                changes[name] = default_user
    return dataclasses.replace(obj, **changes) if changes else obj


def _notify_script(script: ScriptCommand, path: str | None,
                   default_user: str | None) -> ScriptCommand:
    """A notify-type script with argv[0] resolved and, without its own user, the default
    script user (lib/notify.c notify_script_init: get_default_script_user)."""
    if path is not None and path != script.command[0]:
        script = dataclasses.replace(script, command=(path, *script.command[1:]))
    if script.user is None and default_user is not None:
        script = dataclasses.replace(script, user=default_user)
    return script


def apply_scripts(config: Config, disabled: frozenset[str], paths: Mapping[str, str],
                  default_user: str | None) -> Config:
    """`config` with the scripts at `disabled` dropped, argv[0] of those in `paths` replaced
    and unset users set to `default_user` (see the module doc)."""
    new = _apply(config, "", disabled, paths, default_user)
    scripts = {s.name for s in new.vrrp_scripts}
    instances = []
    for instance in new.vrrp_instances:
        refs = tuple(r for r in instance.track_script if r.name in scripts)
        if refs != instance.track_script:
            instance = dataclasses.replace(instance, track_script=refs)
        instances.append(instance)
    if instances != list(new.vrrp_instances):
        new = dataclasses.replace(new, vrrp_instances=tuple(instances))
    return new


__all__ = ["ConfiguredScript", "apply_scripts", "configured_scripts"]
