"""configure_logging: JSON lines or key=value console output, level filtering, stdlib logs."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from haipvs.logging_setup import configure_logging


@pytest.fixture(autouse=True)
def _reset():
    yield
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_haipvs", False):
            root.removeHandler(handler)


def test_json_lines_with_level_filter():
    stream = io.StringIO()
    configure_logging("json", "info", stream=stream)
    log = structlog.get_logger("haipvs")
    log.debug("hidden")
    log.info("vrrp_transition", instance="VI_1", new="MASTER")
    logging.getLogger("pyroute2").warning("library says %s", "hi")
    logging.getLogger("pyroute2").info("library chatter")
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["event"] for e in events] == ["vrrp_transition", "library says hi"]
    assert events[0]["instance"] == "VI_1" and events[0]["level"] == "info"
    assert "timestamp" in events[0]
    assert events[1]["logger"] == "pyroute2" and events[1]["level"] == "warning"


def test_auto_is_json_when_not_a_tty_and_console_is_key_value():
    stream = io.StringIO()
    configure_logging("auto", "debug", stream=stream)
    structlog.get_logger().debug("probe", a=1)
    assert json.loads(stream.getvalue())["a"] == 1
    stream = io.StringIO()
    configure_logging("console", "info", stream=stream)
    structlog.get_logger().info("probe", answer=42)
    line = stream.getvalue()
    assert "probe" in line and "answer=42" in line
    assert "\x1b[" not in line  # no colours when not a terminal


def test_configuring_twice_keeps_one_stdlib_handler():
    configure_logging("json", "info", stream=io.StringIO())
    configure_logging("json", "info", stream=io.StringIO())
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_haipvs", False)]
    assert len(ours) == 1


@pytest.mark.parametrize("fmt,level", [("xml", "info"), ("json", "loud")])
def test_rejects_unknown_format_or_level(fmt, level):
    with pytest.raises(ValueError):
        configure_logging(fmt, level, stream=io.StringIO())
