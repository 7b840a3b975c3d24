"""Support for tests whose scripts run as their own users (no tests here): two throwaway
system users made for the test and removed after it, and a directory they can all write."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class TestUser:
    name: str
    uid: int
    gid: int  # its own group, named like the user


def _run(argv: list[str]) -> None:
    # useradd/userdel lock /etc/passwd; another test doing the same may hold it briefly
    for attempt in range(20):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if done.returncode == 0:
            return
        if attempt == 19 or "lock" not in done.stderr.lower():
            raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
        time.sleep(0.2)


def make_user(name: str) -> TestUser:
    _run(["useradd", "--system", "--user-group", "--no-create-home",
          "--shell", "/usr/sbin/nologin", name])
    entry = pwd.getpwnam(name)
    return TestUser(name, entry.pw_uid, entry.pw_gid)


def remove_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return
    _run(["userdel", name])
    try:  # --user-group made it; userdel removes it unless another user has it
        grp.getgrnam(name)
        _run(["groupdel", name])
    except KeyError:
        pass


@pytest.fixture
def two_users() -> Iterator[tuple[TestUser, TestUser]]:
    """Two new users (`hvA<pid>`, `hvB<pid>`: unique per test process), removed after."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("needs root and useradd")
    names = (f"hva{os.getpid()}", f"hvb{os.getpid()}")
    made: list[str] = []
    try:
        for name in names:
            remove_user(name)  # left over by a killed run
            make_user(name)
            made.append(name)
        yield tuple(TestUser(n, pwd.getpwnam(n).pw_uid, pwd.getpwnam(n).pw_gid)
                    for n in names)  # type: ignore[misc]
    finally:
        for name in made:
            remove_user(name)


@pytest.fixture
def script_dir() -> Iterator[Path]:
    """A root-owned 0755 directory (pytest's tmp_path sits under a 0700 one that other users
    cannot enter) with `ids.sh` (id_script) and `out/`, which every user may write."""
    directory = Path(tempfile.mkdtemp(prefix="haipvs-script-users-", dir="/tmp"))
    os.chmod(directory, 0o755)
    (directory / "out").mkdir()
    os.chmod(directory / "out", 0o777)  # not sticky: fs.protected_regular would refuse
    # a user's O_CREAT of a file another user made there (out_file makes shared ones)
    script = directory / "ids.sh"
    # appends `<tag> <uid> <gid>` to the file in $1; slow enough that two runs at once
    # would interleave their start/end lines
    script.write_text('#!/bin/sh\necho "start $2" >> "$1"; sleep 0.05\n'
                      'echo "$2 $(id -u) $(id -g)" >> "$1"\n')
    os.chmod(script, 0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


def out_file(directory: Path, name: str) -> Path:
    """A file in `directory`/out that every user's script may append to."""
    path = directory / "out" / name
    path.touch()
    os.chmod(path, 0o666)
    return path
