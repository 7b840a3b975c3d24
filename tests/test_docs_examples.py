"""Every ```yaml block in README.md and docs/*.md is a complete config that passes
`haipvs check`, unless its first line is `# snippet` (a partial example, skipped)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from haipvs.config import ConfigError, load_config_text

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```yaml[ \t]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def yaml_blocks() -> list[tuple[str, int, str]]:
    blocks = []
    for path in DOCS:
        text = path.read_text()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start(1)) + 1
            blocks.append((path.relative_to(ROOT).as_posix(), line, match.group(1)))
    return blocks


BLOCKS = yaml_blocks()


def test_the_docs_have_examples():
    assert len([b for b in BLOCKS if not b[2].startswith("# snippet")]) >= 4


@pytest.mark.parametrize(("doc", "line", "text"), BLOCKS, ids=[f"{d}:{n}" for d, n, _ in BLOCKS])
def test_yaml_block_passes_check(doc: str, line: int, text: str):
    if text.startswith("# snippet"):
        pytest.skip("marked as a partial example")
    try:
        load_config_text(text, f"{doc}:{line}")
    except ConfigError as exc:
        pytest.fail(f"{doc}, yaml block at line {line} does not pass haipvs check (mark a "
                    f"partial example with '# snippet' as its first line):\n{exc}")
