"""Shared by the director policy tests (no tests here): configs from YAML, transitions with
injected time, and picking outputs by type."""

from __future__ import annotations

from typing import TypeVar

from haipvs.config import load_config_text
from haipvs.config.model import Config
from haipvs.events import VrrpTransition
from haipvs.ipvs.desired import RealServerHealth
from haipvs.ipvs.model import DestKey, ServiceKey
from haipvs.policy.director import Director, Emit, HealthChanged, Output, Start
from haipvs.vrrp.messages import State

T = TypeVar("T")

WEB_KEY = ServiceKey.inet("TCP", "192.0.2.100", 80)
RS = ("198.51.100.10", "198.51.100.11", "198.51.100.12")


def config(text: str) -> Config:
    return load_config_text(text, "director-test.yaml")


def director(text: str, *, started: bool = True) -> Director:
    """A director from YAML; `started` (the default) has handled Start, as the daemon's
    does before any health or VRRP input (its outputs, the starting quorum, are dropped)."""
    policy = Director(config(text))
    if started:
        policy.handle(0.0, Start())
    return policy


def transition(name: str, old: State, new: State, *, at: float = 100.0,
               priority: int = 100, reason: str = "test") -> VrrpTransition:
    return VrrpTransition(instance=name, old=old, new=new, reason=reason, priority=priority,
                          at=at)


def health(address: str, up: bool, *, weight: int | None = None, reason: str = "probe",
           service: ServiceKey = WEB_KEY, port: int = 8080) -> HealthChanged:
    return HealthChanged(service, DestKey(address, port), RealServerHealth(up, weight, reason))


def of_type(outputs: list[Output], kind: type[T]) -> list[T]:
    return [o for o in outputs if isinstance(o, kind)]


def events(outputs: list[Output]) -> list:
    return [o.event for o in outputs if isinstance(o, Emit)]


def kinds(outputs: list[Output]) -> list[str]:
    """Each output's type name, with the event kind for Emit: the order operators see."""
    return [f"Emit:{o.event.kind}" if isinstance(o, Emit) else type(o).__name__
            for o in outputs]
