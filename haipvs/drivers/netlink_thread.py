"""One owner thread for a blocking pyroute2 socket.

pyroute2's sync objects (IPRoute, IPVS) block, and sharing one across threads leaks a
socket per thread. So each object is created and used only inside one dedicated thread;
trio code awaits calls into it. Callers from any trio loop (the main loop or the VRRP
loop) may use the same owner: results come back through the caller's own TrioToken.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import trio

T = TypeVar("T")
_STOP = object()


class NetlinkThread:
    """Runs `factory()` once inside its own thread, then calls submitted jobs there.

    Jobs receive the object as their first argument: `await nl.call(fn, *args)` runs
    `fn(obj, *args)` in the owner thread. A job already started runs to completion even if
    the awaiting task is cancelled (a netlink request cannot be half-sent), and its result
    is then dropped.
    """

    def __init__(self, factory: Callable[[], Any], name: str = "netlink") -> None:
        self._factory = factory
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._obj: Any = None

    def start(self) -> None:
        self._thread.start()
        self._started.wait()
        if self._start_error is not None:
            raise self._start_error

    def close(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(_STOP)
            self._thread.join(timeout=5)

    def __enter__(self) -> NetlinkThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        try:
            self._obj = self._factory()
        except BaseException as exc:  # reported to start()'s caller
            self._start_error = exc
            self._started.set()
            return
        self._started.set()
        try:
            while True:
                job = self._jobs.get()
                if job is _STOP:
                    return
                job()
        finally:
            close = getattr(self._obj, "close", None)
            if close is not None:
                close()

    def call_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """For synchronous callers outside any trio loop (CLI tools, tests)."""
        box: dict[str, Any] = {}
        done = threading.Event()

        def job() -> None:
            try:
                box["result"] = fn(self._obj, *args)
            except BaseException as exc:
                box["error"] = exc
            done.set()

        self._jobs.put(job)
        done.wait()
        if "error" in box:
            raise box["error"]
        return box["result"]

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        token = trio.lowlevel.current_trio_token()
        finished = trio.Event()
        box: dict[str, Any] = {}

        def job() -> None:
            try:
                box["result"] = fn(self._obj, *args)
            except BaseException as exc:
                box["error"] = exc
            # If the caller's loop is gone, nobody is waiting for the result.
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(finished.set)

        self._jobs.put(job)
        await finished.wait()
        if "error" in box:
            raise box["error"]
        return box["result"]
