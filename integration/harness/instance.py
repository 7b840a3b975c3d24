"""One VRRP instance as a test describes it; rendered to keepalived.conf or haipvs YAML."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class VrrpInstance:
    name: str = "VI_1"
    vrid: int = 51
    priority: int = 100
    advert_int: float = 1.0
    version: int = 2
    password: str | None = "1111"  # v2 PASS; None for no authentication (always None in v3)
    vips: tuple[str, ...] = ("192.0.2.100/24",)
    state: str = "BACKUP"
    preempt: bool = True
    preempt_delay: float = 0
    interface: str = "eth0"
    unicast_src_ip: str | None = None
    unicast_peers: tuple[str, ...] = ()
    garp: dict[str, float] = field(default_factory=dict)

    def but(self, **changes) -> VrrpInstance:
        """A copy with some fields changed (instances are frozen so tests can share them)."""
        if "vips" in changes:
            changes["vips"] = tuple(changes["vips"])
        if "unicast_peers" in changes:
            changes["unicast_peers"] = tuple(changes["unicast_peers"])
        return replace(self, **changes)

    @property
    def auth(self) -> str | None:
        return self.password if self.version == 2 else None

    @property
    def vip_addresses(self) -> list[str]:
        return [v.split("/")[0] for v in self.vips]
