"""Checker timing read off the wire: a netns daemon's real-server health (from its state dump)
against the check attempts its sniffers saw in the real server's namespace.

Issue 16's bound is measured from the first attempt the checker made after the cause (an
attempt already under way at the cause cannot be sped up), to the `since` of the transition
in the dump. The sniffers must be started before the daemon."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from integration.harness.sniffer import Sniffer
from integration.harness.wait import wait_until


def by_service(entry: dict[str, Any]) -> str:
    """The dump's `ipvs.real_servers[]` entry's virtual service, "TCP 192.0.2.100:25"."""
    return entry["service"]


def by_address(entry: dict[str, Any]) -> str:
    """The entry's real server address without port or brackets, "2001:db8::2"."""
    return entry["real_server"].rsplit(":", 1)[0].strip("[]")


class CheckWatch:
    def __init__(self, daemon: Any, keys: dict[str, str], sniffers: dict[str, Sniffer],
                 key: Callable[[dict[str, Any]], str] = by_service) -> None:
        self.daemon, self.keys, self.sniffers, self.key = daemon, keys, sniffers, key

    def health(self) -> dict[str, dict[str, Any]]:
        found = {self.key(h): h for h in self.daemon.dump()["ipvs"]["real_servers"]}
        return {name: found[k] for name, k in self.keys.items() if k in found}

    def is_up(self, name: str) -> bool | None:
        """None until the server's first check has run."""
        h = self.health().get(name)
        if h is None or not h["checks"][0]["runs"]:
            return None
        return h["up"]

    def transition(self, names: Iterable[str], up: bool, cause_at: float, why: str,
                   bound: float, timeout: float) -> dict[str, list[float]]:
        """Wait (up to `timeout`) for every one of `names` to be `up`; assert each did within
        `bound` of its first attempt after `cause_at`. Returns each one's attempt times up to
        its transition."""
        names = tuple(names)
        wait_until(lambda: all(self.is_up(n) is up for n in names), timeout, interval=0.05,
                   what=f"{names} {why}")
        now = self.health()
        attempts: dict[str, list[float]] = {}
        for name in names:
            since = now[name]["since"]
            seen = [f.ts for f in self.sniffers[name].frames(cause_at) if f.ts <= since + 0.001]
            assert seen, f"{name}: no check attempt seen after the cause ({why})"
            took = since - seen[0]
            state = "up" if up else "down"
            print(f"{name} {why}: {state} {took:.3f}s after the first attempt "
                  f"({len(seen)} attempts), {since - cause_at:.3f}s after the cause")
            assert 0 <= took <= bound, (
                f"{name} {why}: {state} {took:.3f}s after the first attempt (bound "
                f"{bound:.2f}s); reason {now[name]['reason']!r}")
            attempts[name] = seen
        return attempts
