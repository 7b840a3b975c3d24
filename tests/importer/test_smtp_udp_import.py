"""SMTP_CHECK (check_smtp.c, with its deprecated host blocks) and UDP_CHECK payload /
require_reply HEX / min,max_reply_length (check_udp.c) through the importer, checked against
haipvs' own config loader and the independent reader (kaconf_reader.py)."""

from __future__ import annotations

from pathlib import Path

from haipvs.config import load_config_text
from haipvs.importer import import_keepalived
from haipvs.policy.udp_reply import HexPattern
from tests.importer.test_real_corpus import differences

CORPUS = Path(__file__).parent / "corpus" / "21-smtp-udp-checks.conf"


def imported(tmp_path: Path, body: str):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(body)
    result = import_keepalived(conf)
    return result, load_config_text(result.yaml)


def rs_of(port: int, proto: str = "TCP") -> str:
    return (f"virtual_server 192.0.2.1 {port} {{\n lb_algo rr\n lb_kind NAT\n protocol {proto}\n"
            f" real_server 198.51.100.1 {port} {{\n")


def test_smtp_check_helo_name_and_connection(tmp_path):
    result, config = imported(tmp_path, rs_of(25) + "  SMTP_CHECK {\n   helo_name mx.example\n"
                              "   connect_timeout 3\n   retry 4\n  }\n }\n}\n")
    (check,) = config.virtual_servers[0].real_servers[0].checkers
    assert (check.kind, check.helo_name, check.connect_timeout, check.retry) == (
        "smtp_check", "mx.example", 3.0, 4)
    assert not result.notes


def test_smtp_check_end_handler_first_host_replaces_an_unset_connection(tmp_path):
    _, config = imported(tmp_path, rs_of(25) + "  SMTP_CHECK {\n   host {\n"
                         "    connect_ip 198.51.100.2\n    connect_timeout 2\n    retry 3\n"
                         "   }\n   host {\n    connect_port 2525\n    connect_timeout 2\n"
                         "   }\n  }\n }\n}\n")
    checks = config.virtual_servers[0].real_servers[0].checkers
    assert [(str(c.connect_ip), c.connect_port, c.retry) for c in checks] == [
        ("198.51.100.2", None, 3), ("None", 2525, 3)]


def test_smtp_check_end_handler_own_connection_is_kept_next_to_the_hosts(tmp_path):
    _, config = imported(tmp_path, rs_of(25) + "  SMTP_CHECK {\n   connect_port 587\n"
                         "   host {\n    connect_ip 198.51.100.2\n    connect_timeout 2\n"
                         "   }\n  }\n }\n}\n")
    checks = config.virtual_servers[0].real_servers[0].checkers
    assert [(str(c.connect_ip), c.connect_port) for c in checks] == [
        ("None", 587), ("198.51.100.2", None)]


def test_udp_check_payload_and_require_reply_hex(tmp_path):
    result, config = imported(tmp_path, rs_of(53, "UDP") + "  UDP_CHECK {\n"
                              "   payload 1 2 ab\n   require_reply 0a Xb\n"
                              "   max_reply_length 40\n  }\n }\n}\n")
    (check,) = config.virtual_servers[0].real_servers[0].checkers
    assert check.payload == b"\x01\x02\xab"
    assert check.require_reply and check.reply_pattern == HexPattern(b"\x0a\x0b", b"\x00\xf0")
    assert check.max_reply_length == 40
    assert not result.notes


def test_udp_check_without_payload_sends_keepalived_s_default(tmp_path):
    _, config = imported(tmp_path, rs_of(53, "UDP") + "  UDP_CHECK {\n  }\n }\n}\n")
    assert config.virtual_servers[0].real_servers[0].checkers[0].payload == (
        b"keepalived check - keepalived ch")


def test_the_corpus_file_agrees_with_the_independent_reader():
    assert differences(CORPUS) == []


def test_smtp_helo_name_handler_set_value_keeps_the_first_word(tmp_path):
    result, config = imported(tmp_path, rs_of(25) + "  SMTP_CHECK {\n"
                              "   helo_name mx.example trailing words\n  }\n }\n}\n")
    assert config.virtual_servers[0].real_servers[0].checkers[0].helo_name == "mx.example"
    assert not result.notes
