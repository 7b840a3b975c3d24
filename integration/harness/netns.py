"""Network namespaces: create with a unique name, run commands in them, delete them."""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shlex
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from integration.harness import cleanup

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"

_libc = ctypes.CDLL(None, use_errno=True)


class CommandFailed(RuntimeError):
    pass


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 20.0,
        input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, check=False, input=input_text
    )
    if check and proc.returncode != 0:
        raise CommandFailed(
            f"{shlex.join(argv)} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()}"
        )
    return proc


def unique_name(prefix: str) -> str:
    """A netns name no parallel run will pick: prefix, pid and random suffix."""
    return f"{prefix}{os.getpid() % 10000}{secrets.token_hex(3)}"


def call_in_netns(name: str, fn: Callable[[], T]) -> T:
    """Run `fn` in a short-lived thread that has entered netns `name`.

    Sockets `fn` creates stay bound to that namespace after the thread exits, so this is how
    the test process opens sniffer and injection sockets inside a node (setns changes only
    the calling thread's namespace, never the test process's main thread).
    """
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            fd = os.open(os.path.join(NETNS_RUN_DIR, name), os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({name}): {os.strerror(err)}")
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=body, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


class Netns:
    """A named network namespace (`ip netns add`), deleted by `delete()` or at exit."""

    def __init__(self, prefix: str = "hv") -> None:
        self.name = unique_name(prefix)
        run(["ip", "netns", "add", self.name])
        self._token = cleanup.register(self.delete)
        self.deleted = False
        self.run("ip", "link", "set", "lo", "up")

    def __repr__(self) -> str:
        return f"Netns({self.name})"

    def argv(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, *argv: str, check: bool = True, timeout: float = 20.0,
            input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        return run(self.argv(*argv), check=check, timeout=timeout, input_text=input_text)

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["ip", "-n", self.name, *args], check=check)

    def sysctl(self, key: str, value: str | int) -> None:
        """Write /proc/sys inside the namespace (the net.* tree is per-namespace)."""
        self.run("sysctl", "-q", "-w", f"{key}={value}")

    def nft(self, ruleset: str) -> None:
        self.run("nft", "-f", "-", input_text=ruleset)

    def pids(self) -> list[int]:
        out = run(["ip", "netns", "pids", self.name], check=False).stdout
        return [int(p) for p in out.split()]

    def delete(self) -> None:
        if self.deleted:
            return
        self.deleted = True
        cleanup.forget(self._token)
        with contextlib.suppress(CommandFailed, subprocess.TimeoutExpired):
            run(["ip", "netns", "del", self.name])
