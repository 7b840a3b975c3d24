"""Keep the test process's signal dispositions as they were: a test that runs `haipvs main`
in-process installs the daemon's early handlers (SIG_IGN for HUP/USR1/USR2/...). Ignored
dispositions survive fork and exec, so they would leak into every daemon a later
integration test starts and hide a signal that arrives before haipvs's first line."""

from __future__ import annotations

import signal

import pytest

from haipvs.daemon_signals import SIGJSON, SIGSTATS_CLEAR

WATCHED = (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGQUIT, signal.SIGTERM,
           signal.SIGINT, signal.SIGPIPE, SIGJSON, SIGSTATS_CLEAR)


@pytest.fixture(autouse=True)
def _restore_signal_dispositions():
    saved = {signum: signal.getsignal(signum) for signum in WATCHED}
    yield
    for signum, handler in saved.items():
        if signal.getsignal(signum) is not handler and handler is not None:
            signal.signal(signum, handler)
