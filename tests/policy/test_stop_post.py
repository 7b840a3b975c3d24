"""haipvs.policy.stop_post: what systemd's ExecStopPost does with the scale-out routes, by
SERVICE_RESULT (systemd.exec(5)); issue 17: "A watchdog failure (a hung haipvs) withdraws"."""

from haipvs.policy.stop_post import withdraw_on_stop


def test_a_hung_haipvs_withdraws_its_routes():
    assert withdraw_on_stop("watchdog") is True


def test_a_graceful_stop_or_a_crash_keeps_them_for_the_restarted_daemon():
    # success: drained already (or kept on purpose with -I); a crash: Restart=on-failure and
    # the new daemon adopts the routes, so no BGP update (a SIGKILL changes no route)
    for result in ("success", "signal", "core-dump", "exit-code", "timeout", None):
        assert withdraw_on_stop(result) is False, result
