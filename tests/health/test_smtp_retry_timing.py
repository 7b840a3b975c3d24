"""SMTP_CHECK's retry timing (keepalived 2.2.7 check_smtp.c smtp_final and
smtp_start_check_thread): unlike TCP_CHECK (check_tcp.c tcp_epilog retries only while up),
a down SMTP_CHECK still makes `retry` more attempts, delay_before_retry apart, each
delay_loop, because smtp_start_check_thread() resets retry_it and smtp_final() retries
whatever the state."""

from __future__ import annotations

from haipvs.health.spec import Timing
from haipvs.health.state import CheckResult, CheckState

FAIL, OK = CheckResult(False, "refused"), CheckResult(True, "ok")


def delays(timing: Timing, results: list[CheckResult]) -> list[tuple[bool, float]]:
    state = CheckState(timing, 0.0)
    out = []
    for now, result in enumerate(results):
        out.append((state.record(float(now), result)[1], state.up))
    return [(up, delay) for delay, up in out]


def test_smtp_final_retries_while_down_every_delay_loop():
    timing = Timing(delay_loop=10, retry=2, delay_before_retry=1, retry_while_down=True)
    assert delays(timing, [FAIL] * 7) == [
        (True, 1), (True, 1), (False, 10),  # up: two retries, then down
        (False, 1), (False, 1), (False, 10),  # down: still two retries per delay_loop
        (False, 1)]


def test_tcp_epilog_does_not_retry_while_down():
    timing = Timing(delay_loop=10, retry=2, delay_before_retry=1)
    assert delays(timing, [FAIL] * 5) == [
        (True, 1), (True, 1), (False, 10), (False, 10), (False, 10)]


def test_smtp_a_retry_that_succeeds_while_down_brings_it_up():
    timing = Timing(delay_loop=10, retry=1, delay_before_retry=1, retry_while_down=True)
    assert delays(timing, [FAIL, FAIL, FAIL, OK]) == [
        (True, 1), (False, 10), (False, 1), (True, 10)]


def test_smtp_alpha_starts_down_and_still_retries():
    timing = Timing(delay_loop=10, retry=1, delay_before_retry=1, alpha=True,
                    retry_while_down=True)
    assert delays(timing, [FAIL, FAIL, FAIL]) == [(False, 1), (False, 10), (False, 1)]
