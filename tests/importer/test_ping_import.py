"""PING_CHECK (keepalived 2.2.7 check_ping.c) through the importer: translated to ping_check
with keepalived's timing defaults (check_api.c queue_checker: retry 1, delay_before_retry 1 s;
connection_to from the real server, else the virtual server, else 5 s); the connection
keywords its icmp_connect_thread() ignores are noted. Checked against haipvs' own loader and
the independent reader (kaconf_reader.py)."""

from __future__ import annotations

from pathlib import Path

from haipvs.config import load_config_text
from haipvs.importer import import_keepalived
from tests.importer.test_real_corpus import differences

CORPUS = Path(__file__).parent / "corpus" / "22-ping-check.conf"


def test_ping_check_translated_with_keepalived_defaults() -> None:
    result = import_keepalived(CORPUS)
    config = load_config_text(result.yaml)
    first, second = config.virtual_servers[0].real_servers
    (ping,) = first.checkers
    assert ping.kind == "ping_check"
    assert (str(ping.connect_ip), ping.retry, ping.delay_before_retry, ping.connect_timeout) == (
        "198.51.100.61", 3, 0.5, 2.0)  # retry from the real server, timeout from the service
    ping2, tcp = second.checkers
    assert (ping2.kind, tcp.kind) == ("ping_check", "tcp_check")
    assert (ping2.connect_timeout, ping2.alpha, ping2.warmup, ping2.bindto) == (
        1.0, True, 2.0, None)
    (ping6,) = config.virtual_servers[1].real_servers[0].checkers
    assert (ping6.retry, ping6.delay_before_retry, ping6.delay_loop, ping6.connect_timeout) == (
        1, 1.0, 3.0, 5.0)


def test_ignored_connection_keywords_are_noted_with_check_ping_c() -> None:
    notes = [n for n in import_keepalived(CORPUS).notes if n.dropped]
    assert sorted(n.keyword for n in notes) == ["bind_port", "bindto", "connect_port", "fwmark"]
    assert all("check_ping.c" in str(n) for n in notes)


def test_the_corpus_file_agrees_with_the_independent_reader() -> None:
    assert differences(CORPUS) == []
