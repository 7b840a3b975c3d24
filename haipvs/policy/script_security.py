"""Script security: keepalived's rules for whether a script may run, and as whom.

Pure: the file system is read through `Filesystem`, whose answers are plain data (`FileFacts`),
so the rules are tested with a dict of stat results; haipvs/script_creds.py gathers the real
ones (lstat/stat/realpath) and carries the verdicts out.

Everything here follows keepalived 2.2.7 lib/notify.c:

- `check_script(...)` is check_script_secure(): a bare name is searched in PATH (find_path),
  the path is resolved (realpath, keeping the file-name part when it names the same file),
  the file must be executable by the script's uid:gid (is_executable), and when the script
  runs with uid 0 or gid 0 (or is set-uid/set-gid root) every component of its path is
  checked (check_security).
- `path_security(...)` is check_security(): from "/" down to the file, each component
  (lstat, links not followed) must be owned by root, and a directory without the sticky
  bit or a regular file must be neither world-writable nor writable by a non-root group.
  An intermediate component must be a directory, the last a regular file or a symbolic link.
- The flags are keepalived's SC_* (lib/notify.h). A script is disabled (not run) when it is
  INHIBIT (insecure with enable_script_security), NOTFOUND, or not EXECUTABLE
  (vrrp.c check_track_script_secure, check_notify_script_secure, check_misc.c
  check_misc_script_security). Without enable_script_security an insecure script runs, and
  keepalived logs "SECURITY VIOLATION - scripts are being executed but script_security not
  enabled. There are insecure scripts." (vrrp.c check_vrrp_script_security): `summary`.
- `default_user(...)` is get_default_script_user(): `script_user` if set, else
  keepalived_script if that user exists, else the daemon's own uid:gid; with
  enable_script_security a missing keepalived_script is a config error and every script
  without its own user is disabled ("Unable to set default user keepalived_script").
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from enum import IntFlag
from typing import Protocol

from haipvs.dataclass_lean import dataclass

# The default user and the credentials: haipvs/policy/script_user.py (every start needs
# them, with or without scripts; the rules here load only for a config with scripts).
from haipvs.policy.script_user import (  # noqa: F401 (re-exported)
    DEFAULT_SCRIPT_USER,
    Credentials,
    DefaultUser,
    default_user,
)


class Sc(IntFlag):
    """keepalived lib/notify.h: flags returned by check_script_secure()."""

    NONE = 0
    INSECURE = 0x01  # run by root but modifiable by a non-root user
    ISSCRIPT = 0x02  # a script file was found
    INHIBIT = 0x04  # must not run (insecure with enable_script_security, wrong file type)
    NOTFOUND = 0x08  # an element of the path cannot be found / accessed
    EXECUTABLE = 0x10  # executable for the script's uid:gid


@dataclass(frozen=True)
class FileFacts:
    """What stat()/lstat() says about one path."""

    mode: int
    uid: int
    gid: int
    dev: int = 0
    ino: int = 0


class Filesystem(Protocol):
    """Read-only views of the file system; None means the path cannot be reached."""

    def lstat(self, path: str) -> FileFacts | None: ...

    def stat(self, path: str) -> FileFacts | None: ...

    def realpath(self, path: str) -> str | None: ...


@dataclass(frozen=True)
class Verdict:
    """The outcome for one script: keepalived's flags, the path it runs as (argv[0] after
    the path search and realpath, as keepalived rewrites it), log lines, and for an insecure
    script the first insecure path component and why."""

    flags: Sc
    path: str
    messages: tuple[str, ...] = ()
    insecure_component: str | None = None
    insecure_reason: str | None = None

    @property
    def disabled(self) -> bool:
        """Not run (check_notify_script_secure: INHIBIT or NOTFOUND or not EXECUTABLE)."""
        return bool(self.flags & (Sc.INHIBIT | Sc.NOTFOUND)) or not self.flags & Sc.EXECUTABLE

    @property
    def insecure(self) -> bool:
        return bool(self.flags & Sc.INSECURE)


def is_executable(facts: FileFacts, uid: int, gid: int) -> bool:
    """lib/notify.c is_executable(): root needs any x bit; the owner the user bit; else the
    group bit for the primary gid, or the other bit (supplementary groups are not counted:
    the script runs with setgroups(1, &gid))."""
    mode = facts.mode
    if uid == 0 and mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH):
        return True
    if uid == facts.uid:
        return bool(mode & stat.S_IXUSR)
    if gid == facts.gid:
        return bool(mode & stat.S_IXGRP)
    return bool(mode & stat.S_IXOTH)


def _prefixes(path: str) -> list[str]:
    """"/", "/a", "/a/b", ... "/a/b/c": the components check_security() walks, in order."""
    parts = [p for p in path.split("/") if p]
    found = ["/"] if path.startswith("/") else []
    for i in range(1, len(parts) + 1):
        found.append(("/" if path.startswith("/") else "") + "/".join(parts[:i]))
    return found


def _unsafe_reason(facts: FileFacts) -> str | None:
    """check_security()'s test for one component, or None when it is safe."""
    mode = facts.mode
    if facts.uid != 0:
        return f"owned by uid {facts.uid}, not root"
    checked = (stat.S_ISDIR(mode) and not mode & stat.S_ISVTX) or stat.S_ISREG(mode)
    if checked and facts.gid != 0 and mode & stat.S_IWGRP:
        return f"writable by group {facts.gid}, not root (mode {stat.S_IMODE(mode):04o})"
    if checked and mode & stat.S_IWOTH:
        what = "a directory without the sticky bit" if stat.S_ISDIR(mode) else "a file"
        return f"world-writable, {what} (mode {stat.S_IMODE(mode):04o})"
    return None


@dataclass(frozen=True)
class PathCheck:
    flags: Sc
    message: str | None = None
    component: str | None = None
    reason: str | None = None


def path_security(path: str, fs: Filesystem, security: bool) -> PathCheck:
    """lib/notify.c check_security(path, using_script_security)."""
    components = _prefixes(path)
    for index, component in enumerate(components):
        last = index == len(components) - 1
        facts = fs.lstat(component)
        if facts is None:
            return PathCheck(Sc.NOTFOUND,
                             f"check_script_secure could not find script '{path}' - disabling",
                             component, "cannot be found")
        mode = facts.mode
        if (not last and not stat.S_ISDIR(mode)) or (
                last and not stat.S_ISREG(mode) and not stat.S_ISLNK(mode)):
            return PathCheck(Sc.INHIBIT, f"Wrong file type found in script path '{path}'.",
                             component, "wrong file type")
        reason = _unsafe_reason(facts)
        if reason is not None:
            suffix = " - disabling" if security else ""
            flags = Sc.INSECURE | (Sc.INHIBIT if security else Sc.NONE)
            return PathCheck(flags, f"Unsafe permissions found for script '{path}'{suffix}.",
                             component, reason)
    return PathCheck(Sc.NONE)


def _searchable(path: str, fs: Filesystem, creds: Credentials) -> bool:
    """Whether every directory above `path` can be searched by creds: keepalived calls
    realpath() with the script's euid/egid, which fails with EACCES otherwise."""
    if creds.uid == 0:
        return True
    for directory in _prefixes(path)[:-1]:
        facts = fs.stat(directory)
        if facts is None or not is_executable(facts, creds.uid, creds.gid):
            return False
    return True


def find_in_path(name: str, search_path: Sequence[str], fs: Filesystem,
                 creds: Credentials) -> tuple[str | None, bool]:
    """lib/notify.c find_path(): the first PATH entry holding a regular file executable by
    creds; (None, True) when one was found but not usable (EACCES)."""
    denied = False
    for directory in search_path:
        candidate = f"{directory.rstrip('/')}/{name}" if directory else name
        facts = fs.stat(candidate)
        if facts is None:
            continue
        if stat.S_ISREG(facts.mode) and is_executable(facts, creds.uid, creds.gid):
            return candidate, False
        denied = True
    return None, denied


def check_script(argv0: str, creds: Credentials, security: bool, fs: Filesystem,
                 search_path: Sequence[str]) -> Verdict:
    """lib/notify.c check_script_secure() for a script run as `creds`."""
    messages: list[str] = []
    path = argv0
    if "/" not in path:
        found, denied = find_in_path(path, search_path, fs, creds)
        if found is None:
            why = "Permissions failure for" if denied else "Cannot find"
            return Verdict(Sc.NOTFOUND, argv0, (f"{why} script {argv0} in path - disabling",))
        messages.append(f"WARNING - script `{argv0}` resolved by path search to `{found}`. "
                        "Please specify full path.")
        path = found
    real = fs.realpath(path) if _searchable(path, fs, creds) else None
    if real is None:
        return Verdict(Sc.NOTFOUND, path, (*messages, f"Script {path} cannot be accessed"))
    # Keep the file-name part when it differs (some programs act on their name, e.g. sh ->
    # dash) if it is the same file; then both paths are checked.
    real_file: str | None = None
    new_path = real
    if path != real:
        wanted_name, real_name = path.rsplit("/", 1)[1], real.rsplit("/", 1)[1]
        if wanted_name != real_name:
            candidate = f"{real.rsplit('/', 1)[0]}/{wanted_name}"
            real_facts, new_facts = fs.stat(real), fs.stat(candidate)
            same = (real_facts is None or (new_facts is not None and (
                real_facts.dev, real_facts.ino) == (new_facts.dev, new_facts.ino)))
            if same:
                new_path, real_file = candidate, real
    path = new_path
    facts = fs.stat(real_file or path)
    if facts is None:
        return Verdict(Sc.NOTFOUND, path,
                       (*messages, f"Unable to access script `{path}` - disabling"))
    flags = Sc.ISSCRIPT
    protect = False
    if is_executable(facts, creds.uid, creds.gid):
        flags |= Sc.EXECUTABLE
        setuid_root = (facts.uid == 0 and facts.mode & stat.S_IXUSR
                       and facts.mode & stat.S_ISUID)
        setgid_root = (facts.gid == 0 and facts.mode & stat.S_IXGRP
                       and facts.mode & stat.S_ISGID)
        protect = bool(creds.uid == 0 or creds.gid == 0 or setuid_root or setgid_root)
    else:
        messages.append(f"WARNING - script '{path}' is not executable for uid:gid "
                        f"{creds.uid}:{creds.gid} - disabling.")
    if not protect:
        return Verdict(flags, path, tuple(messages))
    component = reason = None
    for checked in (path, real_file):
        if checked is None:
            continue
        result = path_security(checked, fs, security)
        flags |= result.flags
        if result.message:
            messages.append(result.message)
        if component is None and result.component is not None:
            component, reason = result.component, result.reason
    return Verdict(flags, path, tuple(messages), component, reason)


def summary(verdicts: Sequence[Verdict], security: bool) -> str | None:
    """vrrp.c check_vrrp_script_security(): the warning when scripts run without
    enable_script_security."""
    if security or not any(v.flags & Sc.ISSCRIPT for v in verdicts):
        return None
    insecure = " There are insecure scripts." if any(v.insecure for v in verdicts) else ""
    return ("SECURITY VIOLATION - scripts are being executed but script_security not "
            f"enabled.{insecure}")
