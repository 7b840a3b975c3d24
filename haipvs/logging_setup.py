"""structlog setup: key=value lines on a terminal, JSON lines otherwise. Always to stderr."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

FORMATS = ("auto", "json", "console")
LEVELS = ("debug", "info", "warning", "error", "critical")


def configure_logging(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Configure structlog (and the stdlib `logging` used by libraries) to write to `stream`
    (stderr). `fmt` "auto" picks console output on a TTY and JSON otherwise."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    if level not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}")
    out = stream if stream is not None else sys.stderr
    is_tty = hasattr(out, "isatty") and out.isatty()
    console = fmt == "console" or (fmt == "auto" and is_tty)
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=is_tty)
        if console
        else structlog.processors.JSONRenderer(sort_keys=False)
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=False),
    ]
    numeric_level = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info if not console else _identity,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    # Libraries (pyroute2, ...) log through the stdlib; render them the same way.
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_haipvs", False):
            root.removeHandler(old)
    handler._haipvs = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    # Library chatter below WARNING only when debugging haipvs itself.
    root.setLevel(numeric_level if level == "debug" else max(numeric_level, logging.WARNING))


def _identity(logger: object, name: str, event_dict: dict) -> dict:
    return event_dict
