"""Run the haipvs daemon; on SIGURG freeze its VRRP loop for SECONDS.

    python -m integration.harness.blocking_daemon SECONDS -- <haipvs arguments>

A test launcher (integration/test_ops_systemd.py), not part of haipvs: it lets a test watch
the systemd watchdog pings stop while the VRRP loop is stuck, and resume after. The freeze
goes through the runtime's public `call_in_loop`, from a helper thread (the signal handler
must return at once: the main loop has to go on running to show that only VRRP is stuck).
Logs `test_hook_blocking_vrrp_loop` when it starts a freeze.

SIGURG because no operator sends it and haipvs does not use it (its default action is to
ignore, and haipvs sets no socket owner, so the kernel never raises it for out-of-band
data); SIGUSR2 belongs to the daemon (statistics, docs/operations.md).
"""

from __future__ import annotations

import signal
import sys
import threading
import time

import structlog

from haipvs import cli
from haipvs.drivers.vrrp_runtime import VrrpRuntime

log = structlog.get_logger("haipvs.test")
FREEZE_SIGNAL = signal.SIGURG


def main() -> int:
    seconds_text, separator, *haipvs_args = sys.argv[1:]
    if separator != "--":
        raise SystemExit(__doc__)
    seconds = float(seconds_text)
    runtimes: list[VrrpRuntime] = []
    original_start = VrrpRuntime.start

    def start(self: VrrpRuntime, *args: object, **kwargs: object) -> None:
        runtimes.append(self)  # the daemon's one runtime
        original_start(self, *args, **kwargs)  # type: ignore[arg-type]

    VrrpRuntime.start = start  # type: ignore[method-assign]

    def freeze(runtime: VrrpRuntime) -> None:
        try:
            runtime.call_in_loop(lambda: time.sleep(seconds))
        except RuntimeError as exc:  # the loop is not (or no longer) running
            log.warning("test_hook_block_failed", error=str(exc))

    def on_urg(signum: int, frame: object) -> None:
        if not runtimes:
            log.warning("test_hook_block_failed", error="the VRRP runtime has not started")
            return
        log.warning("test_hook_blocking_vrrp_loop", seconds=seconds)
        threading.Thread(target=freeze, args=(runtimes[-1],), name="freeze-vrrp",
                         daemon=True).start()

    signal.signal(FREEZE_SIGNAL, on_urg)
    return cli.main(haipvs_args)


if __name__ == "__main__":
    sys.exit(main())
