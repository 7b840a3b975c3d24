"""What an owner wants held (`Entries`), and an instance's or the static block's entries
from the config: the part of haipvs/policy/routes.py that every instance's binding needs.
Kept apart so that a config without excluded VIPs, virtual or static routes and rules (an
idle director) loads none of the route rules and types (issue 18, "import only what a
config uses"); routes.py re-exports these names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from haipvs.dataclass_lean import dataclass

if TYPE_CHECKING:
    from haipvs.config.model import Config, VrrpInstance
    from haipvs.policy.routes import Address, Route, Rule


@dataclass(frozen=True)
class Entries:
    """What one owner wants held: addresses, routes and rules."""

    addresses: tuple[Address, ...] = ()
    routes: tuple[Route, ...] = ()
    rules: tuple[Rule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.addresses or self.routes or self.rules)

    def items(self) -> list[Address | Route | Rule]:
        return [*self.addresses, *self.routes, *self.rules]


NO_ENTRIES = Entries()


def instance_entries(instance: VrrpInstance) -> Entries:
    """An instance's virtual_ipaddress_excluded, virtual_routes and virtual_rules; an
    excluded address without `dev` goes on the instance's interface, like a VIP."""
    if not (instance.virtual_ipaddress_excluded or instance.virtual_routes
            or instance.virtual_rules):
        return NO_ENTRIES
    from haipvs.policy.routes import Address, _route, _rule

    return Entries(
        tuple(Address(a.address, a.dev or instance.interface, a.label)
              for a in instance.virtual_ipaddress_excluded),
        tuple(_route(r) for r in instance.virtual_routes),
        tuple(_rule(r) for r in instance.virtual_rules),
    )


def static_entries(config: Config) -> Entries:
    if not (config.static_ipaddress or config.static_routes or config.static_rules):
        return NO_ENTRIES
    from haipvs.policy.routes import Address, _route, _rule

    return Entries(
        tuple(Address(a.address, a.dev, a.label) for a in config.static_ipaddress),
        tuple(_route(r) for r in config.static_routes),
        tuple(_rule(r) for r in config.static_rules),
    )
