"""What the importer could not translate (or translated with a change), by source line."""

from __future__ import annotations

from haipvs.dataclass_lean import dataclass

NOT_TRANSLATED = "not translated"
CHANGED = "translated with a change"


@dataclass(frozen=True)
class Note:
    """One message about one keepalived.conf line, printed as
    `FILE:LINE: KEYWORD: not translated (WHY)`."""

    file: str
    line: int
    keyword: str
    why: str
    kind: str = NOT_TRANSLATED

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.keyword}: {self.kind} ({self.why})"

    @property
    def dropped(self) -> bool:
        return self.kind == NOT_TRANSLATED
