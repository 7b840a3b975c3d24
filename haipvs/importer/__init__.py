"""`haipvs import-keepalived`: translate a keepalived.conf into haipvs YAML.

    result = import_keepalived("keepalived.conf")
    result.yaml    # commented YAML that `haipvs check` accepts
    result.notes   # every keyword not translated (or translated with a change), by line
"""

from __future__ import annotations

import os

from haipvs.dataclass_lean import dataclass
from haipvs.importer.emit import to_yaml
from haipvs.importer.grammar import UnreadableConfig, parse_file
from haipvs.importer.notes import Note
from haipvs.importer.translate import Translator

__all__ = ["ImportResult", "Note", "UnreadableConfig", "import_keepalived"]


@dataclass(frozen=True)
class ImportResult:
    yaml: str
    notes: tuple[Note, ...]
    document: dict

    @property
    def dropped(self) -> tuple[Note, ...]:
        return tuple(n for n in self.notes if n.dropped)


def import_keepalived(path: str | os.PathLike[str], config_id: str | None = None,
                      display: str | None = None) -> ImportResult:
    """Parse `path` (following includes) and translate it. Raises UnreadableConfig (or
    OSError) when the file cannot be read at all; everything else becomes a Note."""
    filename = os.fspath(path)
    nodes, notes = parse_file(filename, display or filename, config_id)
    document = Translator(notes).run(nodes)
    unique: dict[tuple, Note] = {}
    for note in notes:  # a virtual_server_group body is translated once per member
        unique.setdefault((note.file, note.line, note.keyword, note.why, note.kind), note)
    ordered = tuple(sorted(unique.values(), key=lambda n: (n.file, n.line)))
    header = [
        f"Translated from {display or filename} by `haipvs import-keepalived`.",
        "Check it with `haipvs check`; see docs/migration.md for the name table.",
    ]
    dropped = [n for n in ordered if n.dropped]
    if dropped:
        header += ["", f"Not translated ({len(dropped)}):"]
        header += [f"  {n}" for n in dropped]
    changed = [n for n in ordered if not n.dropped]
    if changed:
        header += ["", f"Translated with a change ({len(changed)}):"]
        header += [f"  {n}" for n in changed]
    return ImportResult(to_yaml(document, header), ordered, document)
