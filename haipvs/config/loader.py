"""Read a YAML file into the config model, collecting every problem."""

from __future__ import annotations

import glob
import os
import re

import yaml

from haipvs.config.errors import ConfigError, ConfigIssue
from haipvs.config.include import IncludeReader, merge_includes
from haipvs.config.model import Config
from haipvs.config.sections import CONFIG
from haipvs.config.spec import INVALID, Context, parse_section

MAX_CONFIG_BYTES = 16 * 1024 * 1024


def _fail(filename: str, line: int | None, message: str) -> ConfigError:
    return ConfigError([ConfigIssue(filename, line, "", message)])


def load_config(path: str | os.PathLike[str]) -> Config:
    """Load and validate `path` (and the files it includes); raises ConfigError listing
    every problem."""
    filename = os.fspath(path)
    return load_config_text(_read_text(filename), filename)


def _read_text(filename: str) -> str:
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
    return text


# keepalived's grammar: a top-level block keyword followed by "{" (keepalived/core/parser.c
# reads "keyword ... {" blocks), with "!" or "#" comments. YAML never has a bare "{" at the end
# of such a line, so this does not misfire on a YAML file.
_KEEPALIVED_BLOCK = re.compile(
    r"^\s*(global_defs|vrrp_instance|vrrp_sync_group|vrrp_script|virtual_server|"
    r"virtual_server_group|static_ipaddress|static_routes|track_file|include)\b[^\n]*\{?\s*$",
    re.MULTILINE,
)


def looks_like_keepalived(text: str) -> bool:
    """True when `text` is keepalived.conf grammar rather than a haipvs YAML mapping."""
    return any(match.group(0).rstrip().endswith("{") or match.group(1) == "include"
               for match in _KEEPALIVED_BLOCK.finditer(text))


def _keepalived_error(filename: str) -> ConfigError:
    return _fail(
        filename, None,
        "this looks like a keepalived.conf, not a haipvs YAML file; translate it with "
        f"`haipvs import-keepalived {filename} > lvs.yaml` and check lvs.yaml",
    )


# libyaml composes the same nodes, with the same line marks, ~13x faster than pure Python.
COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(text: str, filename: str) -> yaml.Node | None:
    try:
        root = yaml.compose(text, Loader=COMPOSER)
    except yaml.YAMLError as exc:
        if looks_like_keepalived(text):
            raise _keepalived_error(filename) from None
        raise _yaml_error(filename, exc) from None
    if root is not None and not isinstance(root, yaml.MappingNode) and looks_like_keepalived(
            text):
        raise _keepalived_error(filename)
    return root


# The file system for `include:` (haipvs/config/include.py decides, this module reads).
INCLUDE_READER = IncludeReader(
    glob=glob.glob, exists=os.path.exists, is_dir=os.path.isdir, realpath=os.path.realpath,
    compose=lambda path, display: _compose(_read_text(path), display))


def load_config_text(text: str, filename: str = "<string>",
                     reader: IncludeReader = INCLUDE_READER) -> Config:
    """Validate YAML text; `filename` is used in messages and as Config.source, and its
    directory is where relative `include:` patterns start."""
    ctx = Context(filename)
    root = _compose(text, filename)
    if root is None:
        raise _fail(filename, 1, "the file is empty")
    if isinstance(root, yaml.MappingNode):
        root = merge_includes(root, filename, reader, ctx)
    config = parse_section(CONFIG, root, "", ctx)
    if ctx.issues or config is INVALID:
        # The main file's issues first, then each included file's, each by line.
        raise ConfigError(sorted(ctx.issues, key=lambda issue: (
            issue.file != filename, issue.file, issue.line or 0)))
    return config


def _yaml_error(filename: str, exc: yaml.YAMLError) -> ConfigError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        line = mark.line + 1 if mark is not None else None
        return _fail(filename, line, f"YAML syntax error: {message}")
    return _fail(filename, None, f"YAML error: {str(exc)[:200]}")
