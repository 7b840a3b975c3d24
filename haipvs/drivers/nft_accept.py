"""Carries out haipvs.policy.accept_mode: haipvs' own nftables table with the no_accept drop
rules, through `nft -f -` (one transaction per change; measured 10-20 ms a run here, run with
trio.run_process so the VRRP thread's loop is not blocked while nft works).

The table is keepalived's (vrrp_nftables.c nft_setup_ipv4_vips(), nft_setup_ipv6_vips(),
setup_link_local_checks()) in one `inet` table instead of `ip` + `ip6` ones:

- chain `in`  (hook input, priority -1): ND accepted; link-local destinations go to
  `in_link_local` (address . input interface); `ip daddr @vips4 drop`, `ip6 daddr @vips6 drop`;
- chain `out` (hook output): the same on the source address, so no reply or connection
  leaves from a blocked VIP either.

Ownership: the table carries a comment (limits.NFT_TABLE_COMMENT). It is created with
`add table; delete table; table {...}` in one transaction, so a table left by a crashed run is
replaced, never doubled, and no packet sees a half-built table. A table of that name without
haipvs' comment is someone else's: it is left alone and the drop rules are not installed
(an error is logged).
"""

from __future__ import annotations

from collections.abc import Iterable

from haipvs.drivers.nft_table import (  # noqa: F401 (render_teardown: re-exported)
    FAMILY,
    TableSettings,
    log,
    render_teardown,
    run_script,
    table_state,
    teardown,
)
from haipvs.drivers.vrrp_instance import InstanceBinding
from haipvs.limits import NFT_TABLE_COMMENT
from haipvs.policy import accept_mode as policy
from haipvs.policy.accept_mode import Blocked

SETS = ("vips4", "vips6", "vips6_ll")


def _elements(blocked: Blocked) -> dict[str, list[str]]:
    return {
        "vips4": sorted(str(a) for a in blocked.v4),
        "vips6": sorted(str(a) for a in blocked.v6),
        "vips6_ll": sorted(f'{a} . "{dev}"' for a, dev in blocked.v6_link_local),
    }


def render_setup(table: TableSettings, blocked: Blocked) -> str:
    """The whole table, replacing any table of that name, as one `nft -f` transaction."""
    t = f"{FAMILY} {table.name}"
    c = "counter " if table.counters else ""
    elements = _elements(blocked)
    types = {"vips4": "ipv4_addr", "vips6": "ipv6_addr", "vips6_ll": "ipv6_addr . iface_index"}
    sets = []
    for name in SETS:
        items = f" elements = {{ {', '.join(elements[name])} }};" if elements[name] else ""
        sets.append(f"  set {name} {{ type {types[name]};{items} }}")
    base = f"type filter hook {{hook}} priority {table.priority}; policy accept;"
    lines = [
        f"add table {t}",
        f"delete table {t}",
        f"table {t} {{",
        f'  comment "{NFT_TABLE_COMMENT}"',
        *sets,
        # vrrp_nftables.c: set neighbor-discovery, flags constant.
        "  set nd { type icmpv6_type; flags constant; "
        "elements = { nd-neighbor-solicit, nd-neighbor-advert }; }",
        f"  chain in {{ {base.format(hook='input')}",
        f"    icmpv6 type @nd {c}accept",
        "    ip6 daddr fe80::/10 goto in_link_local",
        f"    ip daddr @vips4 {c}drop",
        f"    ip6 daddr @vips6 {c}drop",
        "  }",
        f"  chain in_link_local {{ ip6 daddr . iif @vips6_ll {c}drop; }}",
        f"  chain out {{ {base.format(hook='output')}",
        f"    icmpv6 type @nd {c}accept",
        "    ip6 saddr fe80::/10 goto out_link_local",
        f"    ip saddr @vips4 {c}drop",
        f"    ip6 saddr @vips6 {c}drop",
        "  }",
        f"  chain out_link_local {{ ip6 saddr . oif @vips6_ll {c}drop; }}",
        "}",
    ]
    return "\n".join(lines) + "\n"


def render_update(table: TableSettings, blocked: Blocked) -> str:
    """The sets' new contents, as one transaction (flush and add: no window without them)."""
    t = f"{FAMILY} {table.name}"
    lines = [f"flush set {t} {name}" for name in SETS]
    for name, items in _elements(blocked).items():
        if items:
            lines.append(f"add element {t} {name} {{ {', '.join(items)} }}")
    return "\n".join(lines) + "\n"


class NftAccept:
    """Runs the policy's outputs. One instance per VRRP runtime, used from its loop only.
    Without `table` it only keeps the policy's state and touches no nftables (a runtime built
    by a test with fake sockets; the daemon always passes global.nftables*)."""

    def __init__(self, table: TableSettings | None = None) -> None:
        self.enabled = table is not None
        self.table = table if table is not None else TableSettings()
        self.policy = policy.AcceptMode()
        self._foreign = False  # a table of our name that is not ours: hands off

    @property
    def rules_in_use(self) -> bool:
        """Whether a Held can change the table: the policy keeps one only while some
        instance may need drop rules, and without it a Held is bookkeeping."""
        return self.enabled and self.policy.table

    async def handle(self, event: policy.Input) -> None:
        for output in self.policy.handle(event):
            if self.enabled:
                await self._apply(output)

    async def _apply(self, output: policy.Output) -> None:
        match output:
            case policy.Setup(blocked=blocked):
                state = await table_state(self.table)
                self._foreign = state == "foreign"
                if self._foreign:
                    log.error("nft_table_not_ours", table=self.table.name,
                              detail="a table of this name exists without haipvs' comment; "
                              "no_accept drop rules are NOT installed (set global.nftables)")
                    return
                if state == "ours":
                    log.info("nft_table_replaced", table=self.table.name)
                await run_script(self.table, render_setup(self.table, blocked), "setup")
            case policy.Update(blocked=blocked):
                if not self._foreign:
                    await run_script(self.table, render_update(self.table, blocked), "update",
                                     blocked=sorted(map(str, _flat(blocked))))
            case policy.Teardown():
                await teardown(self.table)
                self._foreign = False


def guarded_of(bindings: Iterable[InstanceBinding]) -> tuple[policy.Guarded, ...]:
    """The no_accept instances and what their drop rules cover: VIPs and excluded VIPs."""
    return tuple(
        policy.Guarded(b.name, (*((v.interface.ip, v.ifname) for v in b.vips),
                                *((a.interface.ip, a.dev) for a in b.entries.addresses)))
        for b in bindings if policy.drops(b.accept, b.params.base_priority))


def _flat(blocked: Blocked) -> list[object]:
    return [*blocked.v4, *blocked.v6, *(f"{a}%{dev}" for a, dev in blocked.v6_link_local)]

