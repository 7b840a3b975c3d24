"""smtp_check and udp_check's keepalived-parity keys (check_smtp.c, check_udp.c)."""

from __future__ import annotations

import pytest

from haipvs import limits
from haipvs.config import ConfigError
from haipvs.config.model import SmtpCheck, UdpCheck
from haipvs.policy.udp_reply import HexPattern
from tests.config.test_config_model import one_rs


def test_smtp_check_defaults_follow_check_smtp_c():
    check = one_rs("smtp_check: {}").checkers[0]
    assert check == SmtpCheck()
    assert check.helo_name == "smtpchecker.keepalived.org" == limits.SMTP_DEFAULT_HELO
    assert check.retry == 1 and check.delay_before_retry == 1.0  # check_api.c defaults


def test_smtp_check_a_list_is_one_checker_each_like_keepalived_host_blocks():
    rs = one_rs("smtp_check: [{helo_name: a.example}, {connect_ip: 198.51.100.11, "
                "connect_port: 2525}]")
    assert [c.helo_name for c in rs.checkers] == ["a.example", "smtpchecker.keepalived.org"]
    assert rs.checkers[1].connect_port == 2525


def test_smtp_check_helo_name_is_one_line():
    with pytest.raises(ConfigError, match="helo_name"):
        one_rs('smtp_check: {helo_name: "a\\r\\nMAIL FROM"}')


def test_udp_check_payload_hex_is_read_like_keepalived_read_hex_str():
    check = one_rs('udp_check: {payload_hex: "1 2 abc"}').checkers[0]
    assert check.payload == b"\x01\x02\xab\x0c"


def test_udp_check_default_payload_is_keepalived_set_buf():
    assert one_rs("udp_check: {}").checkers[0].payload == b"keepalived check - keepalived ch"


def test_udp_check_reply_pattern_with_wildcards_and_lengths():
    check = one_rs('udp_check: {require_reply: true, reply_pattern: "de xX", '
                   "min_reply_length: 2, max_reply_length: 64}").checkers[0]
    assert check == UdpCheck(require_reply=True, reply_pattern=HexPattern(b"\xde\x00", b"\x00\xff"),
                             min_reply_length=2, max_reply_length=64)


@pytest.mark.parametrize(("body", "message"), [
    ('udp_check: {reply_pattern: "de"}', "needs require_reply"),
    ('udp_check: {require_reply: true, reply_pattern: "dg"}', "reply_pattern"),
    ('udp_check: {payload_hex: "0x"}', "payload_hex"),
    ("udp_check: {min_reply_length: 9, max_reply_length: 8}", "above max_reply_length"),
])
def test_udp_check_bad_input_names_the_key(body, message):
    with pytest.raises(ConfigError, match=message):
        one_rs(body)
