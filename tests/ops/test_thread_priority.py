"""keepalived's vrrp_priority / checker_priority (global_parser.c vrrp_prio_handler,
checker_prio_handler; core/main.c set_process_priority()) as per-thread nice values
(haipvs/thread_priority.py). The daemon's wiring is integration/test_thread_priority.py."""

from __future__ import annotations

import os
import threading

import pytest
from structlog.testing import capture_logs

from haipvs import limits, thread_priority
from haipvs.config import ConfigError, load_config_text
from haipvs.importer import import_keepalived


def _in_a_thread(fn):
    """Runs fn(thread id) in a fresh thread and returns what it returned."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(fn(threading.get_native_id())))
    thread.start()
    thread.join()
    return result[0]


def test_a_nice_value_is_set_for_one_thread_only():
    def in_thread(tid: int):
        error = thread_priority.set_nice(tid, 7)  # raising a nice value needs no privilege
        return error, os.getpriority(os.PRIO_PROCESS, tid)

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert _in_a_thread(in_thread) == (None, 7)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


def test_a_refused_default_is_a_note_and_a_refused_setting_a_warning(monkeypatch):
    def refuse(which, who, value):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(thread_priority.os, "getpriority", lambda which, who: 0)
    monkeypatch.setattr(thread_priority.os, "setpriority", refuse)
    with capture_logs() as logs:
        thread_priority.apply(limits.VRRP_PRIORITY_DEFAULT, limits.CHECKER_PRIORITY_DEFAULT,
                              vrrp_thread_id=12345)
        thread_priority.apply(-5, limits.CHECKER_PRIORITY_DEFAULT, vrrp_thread_id=12345)
    refused = [(e["log_level"], e["setting"], e["nice"]) for e in logs
               if e["event"] == "thread_priority_not_set"]
    assert refused == [("info", "global.vrrp_priority", -10),
                       ("warning", "global.vrrp_priority", -5)]


BASE = """
vrrp_instances:
  - {name: VI_1, interface: lo, virtual_router_id: 51, priority: 100,
     virtual_ipaddress: [192.0.2.100/24]}
"""


def test_defaults_put_the_vrrp_thread_ahead_of_the_checkers():
    settings = load_config_text(BASE).global_settings
    assert (settings.vrrp_priority, settings.checker_priority) == (-10, 0)


@pytest.mark.parametrize("key", ["vrrp_priority", "checker_priority"])
def test_a_nice_value_outside_minus_20_to_19_is_refused(key):
    with pytest.raises(ConfigError, match=f"global.{key}"):
        load_config_text(f"global: {{{key}: 20}}\n" + BASE)


def convert(tmp_path, text: str):
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    return import_keepalived(path)


def test_the_importer_carries_both_over_and_drops_an_invalid_one(tmp_path):
    conf = """
global_defs {
    vrrp_priority -15
    checker_priority 5
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.100/24
    }
}
"""
    result = convert(tmp_path, conf)
    g = load_config_text(result.yaml).global_settings
    assert (g.vrrp_priority, g.checker_priority) == (-15, 5)
    bad = convert(tmp_path, conf.replace("vrrp_priority -15", "vrrp_priority 25"))
    assert load_config_text(bad.yaml).global_settings.vrrp_priority == -10
    assert [n.keyword for n in bad.dropped] == ["vrrp_priority"]
