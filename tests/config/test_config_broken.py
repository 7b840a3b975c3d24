"""The battery of broken configs: every file in broken/ must be rejected, by the library and by
`haipvs check`, with each `# expect: LINE: PATH: fragment` header found as a
`FILE:LINE: PATH: ...fragment...` message and never a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from haipvs.config import ConfigError, load_config

BROKEN = Path(__file__).parent / "broken"
FILES = sorted(BROKEN.glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\d+): ([^:]*): (.+)$")


def expectations(path: Path) -> list[tuple[int, str, str]]:
    found = []
    for line in path.read_text().splitlines():
        match = EXPECT.match(line)
        if match:
            found.append((int(match[1]), match[2], match[3]))
    return found


def expected_prefix(filename: str, line: int, path: str) -> str:
    return f"{filename}:{line}: {path}: " if path else f"{filename}:{line}: "


def test_battery_is_large_enough():
    assert len(FILES) >= 40
    for path in FILES:
        assert expectations(path), f"{path.name} has no '# expect:' header"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_library_rejects_with_every_expected_issue(path: Path):
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    messages = str(caught.value).splitlines()
    assert len(messages) == len(caught.value.issues)
    for line, where, fragment in expectations(path):
        prefix = expected_prefix(str(path), line, where)
        assert any(m.startswith(prefix) and fragment in m for m in messages), (
            f"no issue {prefix!r}...{fragment!r} in:\n" + "\n".join(messages)
        )
    for issue in caught.value.issues:
        assert issue.file == str(path)
        assert issue.line is not None and issue.line >= 1


@pytest.fixture(scope="module")
def check_run() -> subprocess.CompletedProcess[str]:
    """One `haipvs check` over the whole battery (a subprocess per file costs seconds)."""
    return subprocess.run(
        [sys.executable, "-m", "haipvs", "check", *map(str, FILES)],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_haipvs_check_fails_without_traceback(check_run):
    assert check_run.returncode == 1
    assert "Traceback" not in check_run.stdout + check_run.stderr
    assert check_run.stdout == ""  # no file reported OK


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_haipvs_check_reports(path: Path, check_run):
    lines = check_run.stderr.splitlines()
    assert any(re.fullmatch(rf"{re.escape(str(path))}: \d+ errors?", m) for m in lines)
    for line, where, fragment in expectations(path):
        prefix = expected_prefix(str(path), line, where)
        assert any(m.startswith(prefix) and fragment in m for m in lines), (
            f"no {prefix!r}...{fragment!r} in:\n{check_run.stderr}"
        )


def test_haipvs_check_single_file_exit_status():
    broken = subprocess.run(
        [sys.executable, "-m", "haipvs", "check", str(BROKEN / "priority_0.yaml")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert broken.returncode == 1
    assert broken.stderr.startswith(f"{BROKEN / 'priority_0.yaml'}:")
