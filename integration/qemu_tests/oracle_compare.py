"""The oracle's verdict on one file: keepalived's table against haipvs's.

A service whose lines differ (or that only one side has) is accepted only when the
importer left a note, on a line inside the virtual_server block that service comes from,
whose text says what keepalived does (it names keepalived). Anything else is a finding,
reported with keepalived's lines and haipvs's lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from oracle_kaconf import ServiceId, VsBlock, vs_blocks
from oracle_run import Entry, Table

from haipvs.importer import Note


@dataclass
class Difference:
    service: str
    keepalived: Entry | None
    haipvs: Entry | None
    notes: list[Note] = field(default_factory=list)
    blocks: list[VsBlock] = field(default_factory=list)

    def report(self, file: str) -> str:
        def lines(entry: Entry | None) -> str:
            return "\n".join(f"      {line}" for line in entry.lines()) if entry else "      (none)"

        where = ", ".join(f"{Path(b.file).name}:{b.first}-{b.last}" for b in self.blocks)
        return (f"  {file}: service {self.service} (virtual_server {where or 'not found'})\n"
                f"    keepalived:\n{lines(self.keepalived)}\n    haipvs:\n{lines(self.haipvs)}")


def differences(keepalived: Table, haipvs: Table) -> list[Difference]:
    return [Difference(key, keepalived.get(key), haipvs.get(key))
            for key in sorted(keepalived.keys() | haipvs.keys())
            if keepalived.get(key) != haipvs.get(key)]


def _resolve(name: str, base: Path) -> Path:
    path = Path(name)
    return (path if path.is_absolute() else base / path).resolve()


def explain(diffs: list[Difference], conf: Path, notes: tuple[Note, ...]) -> list[Difference]:
    """Fill in each difference's block(s) and the notes that explain it; returns the ones
    nothing explains."""
    files = {conf.resolve()} | {_resolve(n.file, conf.parent) for n in notes}
    blocks = [b for path in sorted(files) if path.is_file() for b in vs_blocks(path)]
    unexplained = []
    for diff in diffs:
        prot, where = diff.service.split(" ", 1)
        service = ServiceId.parse(prot, where)
        diff.blocks = [b for b in blocks if b.matches(service)]
        if not diff.blocks:
            # `virtual_server group G` or `${VIP}`: the block names no literal address.
            diff.blocks = [b for b in blocks
                           if b.args[:1] == ("group",) or any("$" in a for a in b.args)]
        diff.notes = [
            n for n in notes
            if "keepalived" in n.why.lower() and any(
                _resolve(n.file, conf.parent) == Path(b.file).resolve()
                and b.first <= n.line <= b.last for b in diff.blocks)]
        if not diff.notes:
            unexplained.append(diff)
    return unexplained
