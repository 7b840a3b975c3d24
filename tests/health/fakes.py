"""A scriptable probe runner: results per probe, calls counted with their (mock) times."""

from __future__ import annotations

from collections import defaultdict

import trio

from haipvs.health.spec import Endpoint, TcpProbe
from haipvs.health.state import CheckResult


def tcp(port: int, address: str = "127.0.0.1", connect_timeout: float = 1.0) -> TcpProbe:
    return TcpProbe(Endpoint(address, port), connect_timeout)


class FakeProbes:
    def __init__(self) -> None:
        self.failing: set = set()
        self.hanging: set = set()  # never answer: only the engine's hard timeout ends them
        self.latency = 0.0
        self.calls: dict = defaultdict(list)  # probe -> [mock time of each call]
        self.raising: set = set()

    async def __call__(self, probe) -> CheckResult:
        self.calls[probe].append(trio.current_time())
        if probe in self.raising:
            raise RuntimeError("probe bug")
        if probe in self.hanging:
            await trio.sleep_forever()
        if self.latency:
            await trio.sleep(self.latency)
        if probe in self.failing:
            return CheckResult(False, "connect refused", self.latency)
        return CheckResult(True, "connected", self.latency)
