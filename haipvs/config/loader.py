"""Read a YAML file into the config model, collecting every problem."""

from __future__ import annotations

import os

import yaml

from haipvs.config.errors import ConfigError, ConfigIssue
from haipvs.config.model import Config
from haipvs.config.sections import CONFIG
from haipvs.config.spec import INVALID, Context, parse_section

MAX_CONFIG_BYTES = 16 * 1024 * 1024


def _fail(filename: str, line: int | None, message: str) -> ConfigError:
    return ConfigError([ConfigIssue(filename, line, "", message)])


def load_config(path: str | os.PathLike[str]) -> Config:
    """Load and validate `path`; raises ConfigError listing every problem."""
    filename = os.fspath(path)
    try:
        with open(filename, "rb") as stream:
            data = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise _fail(filename, None, f"cannot read: {exc.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise _fail(filename, None, "file is larger than 16 MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _fail(filename, line, "file is not valid UTF-8") from None
    return load_config_text(text, filename)


# libyaml composes the same nodes, with the same line marks, ~13x faster than pure Python.
COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_config_text(text: str, filename: str = "<string>") -> Config:
    """Validate YAML text; `filename` is used in messages and as Config.source."""
    ctx = Context(filename)
    try:
        root = yaml.compose(text, Loader=COMPOSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        line = mark.line + 1 if mark is not None else None
        raise _fail(filename, line, f"YAML syntax error: {message}") from None
    except yaml.YAMLError as exc:
        raise _fail(filename, None, f"YAML error: {exc}") from None
    if root is None:
        raise _fail(filename, 1, "the file is empty")
    config = parse_section(CONFIG, root, "", ctx)
    if ctx.issues or config is INVALID:
        raise ConfigError(sorted(ctx.issues, key=lambda issue: issue.line or 0))
    return config
