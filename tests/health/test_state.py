"""The pure up/down bookkeeping: keepalived's retry, alpha and multi-checker rules."""

from haipvs.health.spec import Timing
from haipvs.health.state import CheckResult, CheckState, ServerHealth, aggregate

OK = CheckResult(True, "connected")
FAIL = CheckResult(False, "connect refused")


def test_without_alpha_a_check_starts_up():
    state = CheckState(Timing(delay_loop=5), now=0.0)
    assert state.up
    assert not state.has_run


def test_with_alpha_a_check_starts_down_until_the_first_success():
    state = CheckState(Timing(delay_loop=5, alpha=True), now=0.0)
    assert not state.up
    assert state.record(1.0, FAIL) == (False, 5)  # already down: no retries, next at delay_loop
    assert state.record(6.0, OK) == (True, 5)
    assert state.up
    assert state.last_transition == 6.0


def test_down_after_retry_retries_spaced_by_delay_before_retry():
    state = CheckState(Timing(delay_loop=10, retry=3, delay_before_retry=2), now=0.0)
    # The first failure and three retries: only the last one takes the check down.
    assert state.record(1.0, FAIL) == (False, 2)
    assert state.record(3.0, FAIL) == (False, 2)
    assert state.record(5.0, FAIL) == (False, 2)
    assert state.up
    assert state.record(7.0, FAIL) == (True, 10)
    assert not state.up
    assert state.consecutive_failures == 4
    assert state.last_transition == 7.0
    assert state.last_reason == "connect refused"


def test_retry_zero_goes_down_on_the_first_failure():
    state = CheckState(Timing(delay_loop=10, retry=0), now=0.0)
    assert state.record(1.0, FAIL) == (True, 10)
    assert not state.up


def test_a_success_between_failures_resets_the_retry_count():
    state = CheckState(Timing(delay_loop=10, retry=1, delay_before_retry=1), now=0.0)
    assert state.record(1.0, FAIL) == (False, 1)
    assert state.record(2.0, OK) == (False, 10)
    assert state.record(12.0, FAIL) == (False, 1)  # a fresh retry budget
    assert state.up


def test_recovery_on_the_first_success():
    state = CheckState(Timing(delay_loop=10, retry=0), now=0.0)
    state.record(1.0, FAIL)
    assert not state.up
    assert state.record(11.0, OK) == (True, 10)
    assert state.up
    assert state.consecutive_failures == 0


def test_counters_and_latency():
    state = CheckState(Timing(delay_loop=10, retry=5), now=0.0)
    state.record(1.0, OK._replace(latency=0.25))
    state.record(2.0, FAIL)
    state.record(3.0, FAIL)
    assert (state.runs, state.failures, state.consecutive_failures) == (3, 2, 2)
    assert state.last_checked == 3.0
    assert state.as_dict()["runs"] == 3
    assert state.as_dict()["latency"] == 0.0


def test_a_dynamic_weight_change_is_a_change_while_up():
    state = CheckState(Timing(delay_loop=10), now=0.0)
    assert state.record(1.0, CheckResult(True, "exit 7", weight=5)) == (True, 10)
    assert state.weight == 5
    assert state.record(11.0, CheckResult(True, "exit 7", weight=5)) == (False, 10)
    assert state.record(21.0, CheckResult(True, "exit 0")) == (True, 10)
    assert state.weight is None


def _state(up: bool, reason: str = "", weight: int | None = None) -> CheckState:
    state = CheckState(Timing(delay_loop=1, alpha=not up), now=0.0)
    state.last_reason = reason
    state.weight = weight
    return state


def test_a_server_is_up_only_when_all_its_checkers_are_up():
    up = _state(True, "connected")
    down = _state(False, "HTTP 503")
    health = aggregate([("tcp_check", up), ("http_get", down)], None, now=3.0)
    assert health == ServerHealth(False, None, "http_get: HTTP 503", 3.0)
    assert aggregate([("tcp_check", up)], None, now=3.0).up


def test_a_server_without_checkers_is_up():
    assert aggregate([], None, now=0.0).up


def test_aggregate_keeps_the_transition_time_while_the_state_holds():
    first = aggregate([("tcp_check", _state(False, "x"))], None, now=1.0)
    again = aggregate([("tcp_check", _state(False, "y"))], first, now=9.0)
    assert again.since == 1.0
    flipped = aggregate([("tcp_check", _state(True, "ok"))], again, now=12.0)
    assert flipped.since == 12.0


def test_the_lowest_dynamic_weight_wins():
    checks = [("misc_check", _state(True, weight=7)), ("misc_check", _state(True, weight=3)),
              ("tcp_check", _state(True))]
    assert aggregate(checks, None, now=0.0).weight == 3
