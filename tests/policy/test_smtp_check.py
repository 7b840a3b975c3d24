"""SMTP_CHECK's dialogue, following keepalived 2.2.7 check/check_smtp.c (smtp_engine_thread,
smtp_get_line_cb, smtp_get_status)."""

from __future__ import annotations

import pytest

from haipvs.policy.smtp_check import (
    SMTP_DEFAULT_HELO,
    Send,
    SmtpDialogue,
    Stage,
    Verdict,
    smtp_status,
)


def run(dialogue: SmtpDialogue, *chunks: bytes) -> list:
    return [dialogue.feed(chunk) for chunk in chunks]


def test_smtp_engine_thread_banner_220_helo_250_quit_any_line_is_up():
    d = SmtpDialogue("checker.example")
    assert d.feed(b"220 mx.example ESMTP\r\n") == Send(b"HELO checker.example\r\n")
    assert d.feed(b"250 mx.example\r\n") == Send(b"QUIT\r\n")
    assert d.feed(b"221 bye\r\n") == Verdict(True, "SMTP dialogue ok")
    assert d.stage is Stage.DONE


def test_check_smtp_h_default_helo_name():
    assert SMTP_DEFAULT_HELO == "smtpchecker.keepalived.org"
    assert SmtpDialogue().feed(b"220 x\r\n") == Send(b"HELO smtpchecker.keepalived.org\r\n")


def test_smtp_recv_quit_accepts_any_line_even_an_error_status():
    d = SmtpDialogue()
    run(d, b"220 x\r\n", b"250 x\r\n")
    assert d.feed(b"500 what\r\n") == Verdict(True, "SMTP dialogue ok")


@pytest.mark.parametrize("banner", [b"554 no service\r\n", b"421 busy\r\n", b"250 x\r\n",
                                    b"hello\r\n", b"\r\n"])
def test_smtp_have_banner_anything_but_220_is_a_bad_greeting(banner):
    verdict = SmtpDialogue().feed(banner)
    assert isinstance(verdict, Verdict) and not verdict.up
    assert "bad greeting banner" in verdict.reason


@pytest.mark.parametrize("reply", [b"550 denied\r\n", b"501 syntax\r\n", b"220 again\r\n"])
def test_smtp_recv_helo_anything_but_250_is_a_bad_helo_response(reply):
    d = SmtpDialogue()
    d.feed(b"220 x\r\n")
    verdict = d.feed(reply)
    assert isinstance(verdict, Verdict) and not verdict.up
    assert "bad HELO response" in verdict.reason


def test_smtp_get_line_cb_waits_for_the_newline_across_reads():
    d = SmtpDialogue()
    assert run(d, b"22", b"0 mx", b".example\r") == [None, None, None]
    assert d.feed(b"\n") == Send(b"HELO smtpchecker.keepalived.org\r\n")


def test_smtp_get_line_clears_the_buffer_so_a_multiline_banner_fails():
    # "220-" is what strtoul stops at: endptr - buff == 3 but *endptr is '-'.
    verdict = SmtpDialogue().feed(b"220-mx.example ESMTP\r\n220 ready\r\n")
    assert isinstance(verdict, Verdict) and not verdict.up


def test_smtp_get_line_drops_bytes_after_the_first_newline_of_a_read():
    d = SmtpDialogue()
    # The HELO reply arriving in the banner's read is lost: keepalived then waits for it.
    assert d.feed(b"220 x\r\n250 early\r\n") == Send(b"HELO smtpchecker.keepalived.org\r\n")
    assert d.feed(b"250 now\r\n") == Send(b"QUIT\r\n")


def test_smtp_get_status_needs_exactly_three_digits_then_space_or_end():
    assert smtp_status(b"220 ok") == 220
    assert smtp_status(b"220") == 220
    assert smtp_status(b"220\r") == -1  # only the '\n' is cut
    assert smtp_status(b"220-more") == -1
    assert smtp_status(b" 220 x") == -1
    assert smtp_status(b"0220 x") == -1
    assert smtp_status(b"22 x") == -1
    assert smtp_status(b"220\0junk") == 220  # the C string ends at the NUL


def test_smtp_get_line_cb_wraps_a_full_buffer_by_clearing_it():
    d = SmtpDialogue()
    # 511 bytes without a newline fill SMTP_BUFF_MAX - 1: cleared, the next line counts.
    assert d.feed(b"x" * 511) is None
    assert d.feed(b"220 ok\r\n") == Send(b"HELO smtpchecker.keepalived.org\r\n")
    # One read carrying 600 bytes: keepalived reads 511, clears, then reads the rest.
    d2 = SmtpDialogue()
    assert d2.feed(b"y" * 511 + b"220 ok\r\n") == Send(b"HELO smtpchecker.keepalived.org\r\n")


def test_smtp_get_line_cb_strchr_stops_at_a_nul():
    d = SmtpDialogue()
    assert d.feed(b"\x00" + b"220 ok\r\n") is None  # the newline is behind the NUL


def test_smtp_final_on_read_failure_connection_closed_is_down():
    d = SmtpDialogue()
    d.feed(b"220 x\r\n")
    verdict = d.closed()
    assert not verdict.up and "read failure" in verdict.reason
    assert d.feed(b"250 late\r\n") is None
