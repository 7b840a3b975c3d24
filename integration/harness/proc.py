"""Long-lived processes inside a netns: start, signal, stop with a deadline, logs to a file."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from integration.harness import cleanup
from integration.harness.netns import Netns


class Proc:
    """One process started with `ip netns exec` (which execs, so the PID is the program's).

    The process leads its own session, so its forked children (keepalived's VRRP and checker
    processes) share its process group and `kill()` reaches them all; only that group, which
    this object started, is ever signalled.
    """

    def __init__(self, netns: Netns, argv: list[str], log_path: Path, name: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.netns = netns
        self.argv = argv
        self.name = name or Path(argv[0]).name
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in _reap
        self.popen = subprocess.Popen(
            netns.argv(*argv),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
        self.pid = self.popen.pid
        self.started_at = time.time()
        self._token = cleanup.register(self.kill)

    def __repr__(self) -> str:
        return f"Proc({self.name} pid={self.pid} in {self.netns.name})"

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            os.kill(self.pid, signum)

    def signal_group(self, signum: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signum)

    def wait(self, timeout: float) -> int | None:
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reap()
        return code

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, wait up to `timeout`, then SIGKILL the group; returns the exit code."""
        if not self.alive():
            self._reap()
            return self.returncode
        self.signal(signal.SIGTERM)
        code = self.wait(timeout)
        if code is None:
            self.kill()
            code = self.returncode
        return code

    def kill(self) -> None:
        """SIGKILL the whole process group at once: no goodbye packets, like a crash."""
        if self.alive():
            self.signal_group(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=5)
        self._reap()

    def _reap(self) -> None:
        # No group kill here: once the leader is reaped its PID (= the group id) may be reused.
        cleanup.forget(self._token)
        if not self._log.closed:
            self._log.close()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        tail = self.log_text().splitlines()[-lines:]
        return f"--- last {len(tail)} lines of {self.log_path} ---\n" + "\n".join(tail)


class ProcessNode:
    """What a daemon-running node (haipvs or keepalived) does with its one `Proc`."""

    proc: Proc | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM: a MASTER sends priority-0 adverts, drops its VIPs and exits."""
        return self.proc.stop(timeout) if self.proc else None

    def kill(self) -> None:
        """SIGKILL (the whole process group): a silent master; its VIPs stay behind."""
        if self.proc:
            self.proc.kill()
