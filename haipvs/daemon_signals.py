"""Which signals the daemon answers, and their dispositions outside the signal task.

Light on purpose (only `signal`): `haipvs` calls `install_early()` first thing, before the
config is read and before trio runs, so no signal an operator sends can kill the process
with its default action at any moment of its life. What each signal does:
docs/operations.md ("Signals").

Between `install_early()` and the signal task (haipvs/daemon_control.py `handle_signals`),
and again after that task has taken its stop signal (trio's open_signal_receiver restores
the previous dispositions when it exits, and re-raises what it had not delivered):
- the control signals (reload, dump, stats, JSON) are ignored, as keepalived ignores them
  until its children run (keepalived/core/main.c `signals_ignore`);
- a stop signal is remembered (`stop_pending`): a stop asked for during start-up is carried
  out, gracefully, as soon as the daemon can; one during the stop changes nothing.
SIGPIPE is ignored for good (keepalived: `signal_ignore(SIGPIPE)` in main.c and
vrrp_daemon.c), so a notify FIFO reader that went away is an EPIPE, never a death.
"""

from __future__ import annotations

import signal

# keepalived 2.2.7 lib/signals.h: `#define SIGJSON (SIGRTMIN + 2)` and
# `#define SIGSTATS_CLEAR (SIGRTMAX - 1)`, with glibc's SIGRTMIN (34, as Python's) that is
# 36 and 63: `keepalived --signum=JSON` prints 36, `--signum=STATS_CLEAR` 63.
# (Plain ints: Python's signal.Signals has no members for real-time signals.)
SIGJSON: int = signal.SIGRTMIN + 2
SIGSTATS_CLEAR: int = signal.SIGRTMAX - 1

# keepalived stops on TERM and INT (main.c `signal_init`, vrrp_daemon.c `vrrp_signal_init`)
# and leaves SIGQUIT at its default (core dump, no priority-0 advert, VIPs left behind).
# haipvs also stops gracefully on QUIT: Ctrl-\ in a foreground run, or a supervisor that
# sends QUIT, would otherwise cost a failover after three advert intervals and leave the VIPs
# on this host; a core dump of a Python process helps no one.
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
CONTROL_SIGNALS: tuple[int, ...] = (
    signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, SIGJSON, SIGSTATS_CLEAR)
HANDLED: tuple[int, ...] = STOP_SIGNALS + CONTROL_SIGNALS

_stop_pending: list[signal.Signals] = []


def _remember_stop(signum: int, frame: object) -> None:
    # A Python-level handler only sets a flag; it runs in the main thread between bytecodes.
    _stop_pending.append(signal.Signals(signum))


def install_early() -> None:
    """Main thread, before anything else: see the module docstring."""
    for signum in CONTROL_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    for signum in STOP_SIGNALS:
        signal.signal(signum, _remember_stop)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)


def name(signum: int) -> str:
    """For logs: SIGTERM, ..., and keepalived's names for its real-time signals."""
    if signum == SIGJSON:
        return "SIGJSON"
    if signum == SIGSTATS_CLEAR:
        return "SIGSTATS_CLEAR"
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def stop_pending() -> signal.Signals | None:
    """The first stop signal that arrived while the signal task was not listening."""
    return _stop_pending[0] if _stop_pending else None
