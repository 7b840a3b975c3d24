"""The bgp lab client's log (haipvs/lab/flows.py) -> what an event did to the flows: which
director served each flow before and after, which flows moved (keeping their connection or
reconnected), which failed, and how many requests were lost."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from haipvs.dataclass_lean import dataclass


@dataclass(frozen=True)
class Record:
    at: float
    flow: int
    connection: int
    ok: bool
    server: str  # the real server's name; "" for an error
    via: str  # the address the real server saw (the director, behind the stand-in)


def parse(line: str) -> Record | None:
    fields = line.split()
    if len(fields) < 4:
        return None
    with contextlib.suppress(ValueError):
        at, flow, connection = float(fields[0]), int(fields[1]), int(fields[2])
        if fields[3] == "ok":
            server = fields[4] if len(fields) > 4 else ""
            via = fields[6] if len(fields) > 6 and fields[5] == "via" else ""
            return Record(at, flow, connection, True, server, via)
        return Record(at, flow, connection, False, "", "")
    return None


def read_log(path: Path, offset: int = 0) -> list[Record]:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return []
    if offset:  # the first line may be cut by the offset
        text = text.partition("\n")[2]
    return [r for r in map(parse, text.splitlines()) if r is not None]


def flow_stats(records: list[Record], event_at: float, settled_at: float, target: str,
               director_of: Callable[[str], str]) -> dict[str, Any]:
    """Per flow: its director before the event (last answer before it) and after the router
    settled (first answer after that); moved = a different director, failed = at least one
    error from the event on."""
    before: dict[int, tuple[str, int]] = {}
    after: dict[int, tuple[str, int]] = {}
    failed: set[int] = set()
    errors = ok_after = 0
    for record in records:
        if record.at < event_at:
            if record.ok:
                before[record.flow] = (director_of(record.via), record.connection)
            continue
        if not record.ok:
            failed.add(record.flow)
            errors += 1
            continue
        ok_after += 1
        if record.at >= settled_at and record.flow not in after:
            after[record.flow] = (director_of(record.via), record.connection)
    moved = [f for f in before if f in after and after[f][0] != before[f][0]]
    kept = [f for f in moved if after[f][1] == before[f][1]]
    return {"flows": len(before), "on_target": sum(1 for d, _ in before.values() if d == target),
            "moved": len(moved), "moved_kept_connection": len(kept),
            "moved_reconnected": len(moved) - len(kept), "failed": len(failed),
            "failed_requests": errors, "ok_requests": ok_after,
            "served_after": {d: sum(1 for v, _ in after.values() if v == d)
                             for d in sorted({v for v, _ in after.values()})}}


def render_stats(stats: dict[str, Any], target: str) -> str:
    served = ", ".join(f"{d} {n}" for d, n in stats["served_after"].items()) or "nobody"
    return (f"flows: {stats['flows']} running, {stats['on_target']} were on {target}; "
            f"{stats['moved']} moved to another director ({stats['moved_reconnected']} "
            f"reconnected, {stats['moved_kept_connection']} kept their connection); "
            f"{stats['failed']} flows failed ({stats['failed_requests']} failed requests, "
            f"{stats['ok_requests']} answered); flows now served by {served}")
