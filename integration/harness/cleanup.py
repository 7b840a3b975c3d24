"""Last-resort cleanup: whatever a fixture's finalizer missed is removed at interpreter exit.

Only objects this process created register here, so atexit never touches anything else.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Callable

_lock = threading.Lock()
_pending: dict[int, Callable[[], None]] = {}
_next_token = 0


def register(undo: Callable[[], None]) -> int:
    """Remember `undo` until `forget(token)`; returns the token."""
    global _next_token
    with _lock:
        _next_token += 1
        _pending[_next_token] = undo
        return _next_token


def forget(token: int) -> None:
    with _lock:
        _pending.pop(token, None)


def run_all() -> None:
    """Undo newest first (processes were registered after the namespaces they run in)."""
    with _lock:
        items = sorted(_pending.items(), reverse=True)
        _pending.clear()
    for _token, undo in items:
        with contextlib.suppress(Exception):  # cleanup must go on past one failure
            undo()


atexit.register(run_all)
