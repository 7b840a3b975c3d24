"""A trio loop in a thread of its own, driven from other threads (the VRRP runtime's home).

Checker load on the main loop cannot make adverts late: the only thing the two loops share
is the GIL, and the switch interval is lowered so this thread gets it back quickly.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
import trio

from haipvs import thread_priority

log = structlog.get_logger("haipvs.vrrp")

# Python hands the GIL to another thread every 5 ms by default; a busy main loop would
# then delay an advert by up to that much. At 1 ms a priority-0 takeover was still 1.1 ms
# late in one trial of two (the main loop held the GIL when the advert came); 0.2 ms made
# it 0.6-0.8 ms, and 10,000 checks/s keep their rate (docs/benchmarks.md, issue 18). The
# interval only matters while a thread waits for the GIL.
GIL_SWITCH_INTERVAL = 0.0002


class LoopThread:
    """Runs `main` in `trio.run` in a daemon thread. `main` calls `attach()` first and
    `mark_ready()` once it is up, and returns when `shutdown` is set."""

    def __init__(self, main: Callable[[], Awaitable[None]], name: str, label: str) -> None:
        self._main = main
        self._name = name  # the thread's name
        self._label = label  # for error messages, e.g. "VRRP runtime"
        self._token: trio.lowlevel.TrioToken | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.shutdown = trio.Event()
        self.shutdown_requested = False

    # ---- called from other threads ----

    def start(self, timeout: float = 10.0) -> None:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        self._thread = threading.Thread(target=self._thread_main, name=self._name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"{self._label} did not start in time")
        if self._failure is not None:
            raise self._failure

    def _thread_main(self) -> None:
        thread_priority.name_this_thread(f"haipvs-{self._name}")
        try:
            trio.run(self._main)
        except BaseException as exc:
            self._failure = exc
            log.error("vrrp_runtime_failed", error=repr(exc))
        finally:
            self._ready.set()

    def request_shutdown(self) -> None:
        """Thread-safe: ask `main` to finish."""
        self.shutdown_requested = True  # the thread ending after this is not a crash
        self.run_sync_soon(self.shutdown.set)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def native_id(self) -> int | None:
        """The kernel's id of the thread (for setpriority), None before it started."""
        return None if self._thread is None else self._thread.native_id

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._token is not None

    def run_sync_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Thread-safe, non-blocking: run fn(*args) in the loop; callbacks from one thread
        run in the order they were made. Dropped once the loop has ended."""
        if self._token is not None:
            with contextlib.suppress(trio.RunFinishedError):
                self._token.run_sync_soon(fn, *args)

    def call_in_loop(self, fn: Callable[[], Any]) -> Any:
        """Thread-safe, blocking: run fn inside the loop and return its result."""
        if self._token is None:
            raise RuntimeError(f"{self._label} is not running")
        return trio.from_thread.run_sync(fn, trio_token=self._token)

    def run(self, async_fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Thread-safe, blocking: await async_fn(*args) in the loop and return its result."""
        if self._token is None:
            raise RuntimeError(f"{self._label} is not running")
        return trio.from_thread.run(async_fn, *args, trio_token=self._token)

    # ---- called by `main`, inside the loop ----

    def attach(self) -> None:
        self._token = trio.lowlevel.current_trio_token()

    def mark_ready(self) -> None:
        self._ready.set()
