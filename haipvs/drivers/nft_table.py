"""haipvs' own nftables table, the part every start needs: its settings (global.nftables,
nftables_priority, nftables_counters), running `nft`, and deleting a table of ours that a
crashed run left (keepalived vrrp_nftables.c check_and_delete_tables()), which a start does
with or without no_accept instances. The drop rules themselves are
haipvs/drivers/nft_accept.py, loaded only by a config with a no_accept instance (issue 18,
"import only what a config uses").
"""

from __future__ import annotations

import shutil

import structlog
import trio

from haipvs.dataclass_lean import dataclass
from haipvs.limits import NFT_CHAIN_PRIORITY_DEFAULT, NFT_TABLE_COMMENT, NFT_TABLE_DEFAULT

log = structlog.get_logger("haipvs.accept")

FAMILY = "inet"


@dataclass(frozen=True)
class TableSettings:
    """global.nftables, nftables_priority, nftables_counters."""

    name: str = NFT_TABLE_DEFAULT
    priority: int = NFT_CHAIN_PRIORITY_DEFAULT
    counters: bool = False


def render_teardown(table: TableSettings) -> str:
    return f"delete table {FAMILY} {table.name}\n"


async def table_state(table: TableSettings) -> str:
    """"absent", "ours" or "foreign" (nft 1.0.6's JSON omits table comments: text)."""
    result = await run(["list", "table", FAMILY, table.name])
    if result is None or result[0] != 0:
        return "absent"
    return "ours" if f'comment "{NFT_TABLE_COMMENT}"' in result[1] else "foreign"


async def run_script(table: TableSettings, script: str, what: str, **fields: object) -> None:
    """One `nft -f -` transaction, logged as nft_<what> (or why it failed)."""
    result = await run(["-f", "-"], script)
    if result is None:
        log.error("nft_missing", table=table.name, what=what)
    elif result[0] != 0:
        log.error("nft_failed", table=table.name, what=what, error=result[2].strip())
    else:
        log.info(f"nft_{what}", table=table.name, **fields)


async def teardown(table: TableSettings) -> None:
    """The policy's Teardown (haipvs.policy.accept_mode): the table goes if it is ours."""
    if await table_state(table) == "ours":
        await run_script(table, render_teardown(table), "teardown")


async def run(args: list[str], stdin: str = "") -> tuple[int, str, str] | None:
    nft = shutil.which("nft")
    if nft is None:
        return None
    done = await trio.run_process([nft, *args], stdin=stdin.encode(), capture_stdout=True,
                                  capture_stderr=True, check=False)
    return done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(
        errors="replace")
