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

import shutil
from collections.abc import Iterable

import structlog
import trio

from haipvs.dataclass_lean import dataclass
from haipvs.drivers.vrrp_instance import InstanceBinding
from haipvs.limits import NFT_CHAIN_PRIORITY_DEFAULT, NFT_TABLE_COMMENT, NFT_TABLE_DEFAULT
from haipvs.policy import accept_mode as policy
from haipvs.policy.accept_mode import Blocked

log = structlog.get_logger("haipvs.accept")

FAMILY = "inet"
SETS = ("vips4", "vips6", "vips6_ll")


@dataclass(frozen=True)
class TableSettings:
    """global.nftables, nftables_priority, nftables_counters."""

    name: str = NFT_TABLE_DEFAULT
    priority: int = NFT_CHAIN_PRIORITY_DEFAULT
    counters: bool = False


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


def render_teardown(table: TableSettings) -> str:
    return f"delete table {FAMILY} {table.name}\n"


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
                state = await self._table_state()
                self._foreign = state == "foreign"
                if self._foreign:
                    log.error("nft_table_not_ours", table=self.table.name,
                              detail="a table of this name exists without haipvs' comment; "
                              "no_accept drop rules are NOT installed (set global.nftables)")
                    return
                if state == "ours":
                    log.info("nft_table_replaced", table=self.table.name)
                await self._nft(render_setup(self.table, blocked), "setup")
            case policy.Update(blocked=blocked):
                if not self._foreign:
                    await self._nft(render_update(self.table, blocked), "update",
                                    blocked=sorted(map(str, _flat(blocked))))
            case policy.Teardown():
                if await self._table_state() == "ours":
                    await self._nft(render_teardown(self.table), "teardown")
                self._foreign = False

    async def _table_state(self) -> str:
        """"absent", "ours" or "foreign" (nft 1.0.6's JSON omits table comments: text)."""
        result = await _run(["list", "table", FAMILY, self.table.name])
        if result is None or result[0] != 0:
            return "absent"
        return "ours" if f'comment "{NFT_TABLE_COMMENT}"' in result[1] else "foreign"

    async def _nft(self, script: str, what: str, **fields: object) -> None:
        result = await _run(["-f", "-"], script)
        if result is None:
            log.error("nft_missing", table=self.table.name, what=what)
        elif result[0] != 0:
            log.error("nft_failed", table=self.table.name, what=what, error=result[2].strip())
        else:
            log.info(f"nft_{what}", table=self.table.name, **fields)


def guarded_of(bindings: Iterable[InstanceBinding]) -> tuple[policy.Guarded, ...]:
    """The no_accept instances and what their drop rules cover: VIPs and excluded VIPs."""
    return tuple(
        policy.Guarded(b.name, (*((v.interface.ip, v.ifname) for v in b.vips),
                                *((a.interface.ip, a.dev) for a in b.entries.addresses)))
        for b in bindings if policy.drops(b.accept, b.params.base_priority))


def _flat(blocked: Blocked) -> list[object]:
    return [*blocked.v4, *blocked.v6, *(f"{a}%{dev}" for a, dev in blocked.v6_link_local)]


async def _run(args: list[str], stdin: str = "") -> tuple[int, str, str] | None:
    nft = shutil.which("nft")
    if nft is None:
        return None
    done = await trio.run_process([nft, *args], stdin=stdin.encode(), capture_stdout=True,
                                  capture_stderr=True, check=False)
    return done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(
        errors="replace")
