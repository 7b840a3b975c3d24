"""Script users and script security: the I/O side of haipvs/policy/script_security.py.

- `process_options(user)`: the one helper every script runner uses (track scripts in
  haipvs/trackers.py, notify and FIFO scripts in haipvs/notify.py, MISC_CHECK in
  haipvs/health/misc.py): the uid, gid and supplementary groups for trio.run_process /
  subprocess.Popen, as keepalived's set_script_env() (setgid, setgroups(1, &gid), setuid).
- `review(config)`: stats every script (lstat of each path component, realpath, stat) and
  asks the pure rules for a verdict; `secure_config(config)` logs the verdicts and returns
  the config as it runs (haipvs/config/scripts.py apply_scripts): at start and on reload,
  as keepalived checks its scripts when it loads the config. `haipvs check` prints them.
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import field
from typing import TYPE_CHECKING, Any

from haipvs.config.model import Config
from haipvs.config.scripts import apply_scripts, configured_scripts
from haipvs.dataclass_lean import dataclass
from haipvs.policy.script_user import DEFAULT_SCRIPT_USER, Credentials, default_user

if TYPE_CHECKING:  # issue 18: the path rules load with the first config that has scripts
    from haipvs.policy.script_security import FileFacts, Verdict

# The PATH a bare script name is searched in: the one scripts get (haipvs/notify.py).
SEARCH_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def credentials(user: str) -> Credentials:
    """"user" or "user:group" -> uid:gid; the group, when given, replaces the login group
    (lib/notify.c set_uid_gid). KeyError when either is unknown."""
    name, _, group = user.partition(":")
    entry = pwd.getpwnam(name)
    gid = grp.getgrnam(group).gr_gid if group else entry.pw_gid
    return Credentials(entry.pw_uid, gid)


def process_options(user: str | None) -> dict[str, Any]:
    """Keyword arguments for trio.run_process / subprocess.Popen to run as `user` (None:
    as the daemon). The only supplementary group is the gid (set_script_env's setgroups);
    a daemon that is not root and runs a script as itself changes nothing (it could not)."""
    if user is None:
        return {}
    creds = credentials(user)
    if os.geteuid() != 0 and (creds.uid, creds.gid) == (os.geteuid(), os.getegid()):
        return {}
    return {"user": creds.uid, "group": creds.gid, "extra_groups": [creds.gid]}


def give_to(path: str, user: str | None) -> bool:
    """chown `path` to `user`'s uid/gid where they differ from the daemon's (lib/notify.c
    fifo_open); False when that failed."""
    if user is None:
        return True
    try:
        creds = credentials(user)
        uid = creds.uid if creds.uid != os.geteuid() else -1
        gid = creds.gid if creds.gid != os.getegid() else -1
        if (uid, gid) != (-1, -1):
            os.chown(path, uid, gid)
    except (KeyError, OSError):
        return False
    return True


def our_user() -> str:
    """The daemon's own user:group by name (keepalived's our_uid/our_gid)."""
    uid, gid = os.geteuid(), os.getegid()
    try:
        name = pwd.getpwuid(uid).pw_name
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        return "root:root" if uid == 0 else f"{uid}:{gid}"
    return f"{name}:{group}"


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _facts(result: os.stat_result) -> FileFacts:
    from haipvs.policy.script_security import FileFacts

    return FileFacts(result.st_mode, result.st_uid, result.st_gid, result.st_dev, result.st_ino)


class RealFilesystem:
    """haipvs.policy.script_security.Filesystem over the host's file system."""

    def lstat(self, path: str) -> FileFacts | None:
        try:
            return _facts(os.lstat(path))
        except OSError:
            return None

    def stat(self, path: str) -> FileFacts | None:
        try:
            return _facts(os.stat(path))
        except OSError:
            return None

    def realpath(self, path: str) -> str | None:
        try:
            return os.path.realpath(path, strict=True)
        except OSError:
            return None


@dataclass(frozen=True)
class Finding:
    """One line about one script: `level` "error" (refused: `haipvs check` fails),
    "warning" or "info"."""

    level: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


@dataclass
class ScriptReport:
    security: bool
    default_user: str | None
    findings: list[Finding] = field(default_factory=list)
    disabled: set[str] = field(default_factory=set)
    paths: dict[str, str] = field(default_factory=dict)  # where -> resolved argv[0]
    verdicts: dict[str, Verdict] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]


def _describe(where: str, argv0: str, verdict: Verdict, security: bool) -> Finding | None:
    from haipvs.policy.script_security import Sc

    if verdict.flags & Sc.INSECURE:
        detail = (f"{verdict.insecure_component} is {verdict.insecure_reason}"
                  if verdict.insecure_component else "insecure")
        if security:
            return Finding("error", where, f"script {argv0} refused (enable_script_security): "
                           f"{detail}; it is not run")
        return Finding("warning", where, f"script {argv0} is insecure: {detail}; it runs as "
                       "enable_script_security is off")
    if verdict.flags & Sc.INHIBIT:
        return Finding("error", where, f"script {argv0} refused: {verdict.insecure_component}"
                       f" is of the {verdict.insecure_reason}; it is not run")
    if verdict.flags & Sc.NOTFOUND:
        return Finding("warning", where, f"script {argv0} not found or not accessible; it is "
                       "disabled, as keepalived does")
    if not verdict.flags & Sc.EXECUTABLE:
        return Finding("warning", where, f"script {argv0} is not executable for its user; it "
                       "is disabled, as keepalived does")
    return None


def review(config: Config, fs: Any = None) -> ScriptReport:
    """The verdict on every script of `config` (see the module doc)."""
    fs = fs if fs is not None else RealFilesystem()
    settings = config.global_settings
    security = settings.enable_script_security
    default = default_user(settings.script_user, user_exists(DEFAULT_SCRIPT_USER), our_user(),
                           security)
    report = ScriptReport(security, default.user)
    if default.error is not None:
        report.findings.append(Finding("error", "global.script_user", default.error))
    seen: dict[tuple[str, Credentials], Verdict] = {}
    users: dict[str, Credentials] = {}
    scripts = configured_scripts(config)
    if not scripts:  # the default user is all a config without scripts needs
        return report
    from haipvs.policy.script_security import check_script, summary

    for script in scripts:
        user = script.user or default.user
        if user is None:
            report.disabled.add(script.where)
            report.findings.append(Finding(
                "error", script.where,
                f"script {script.argv[0]} has no user to run as; it is not run"))
            continue
        try:
            creds = users[user] if user in users else users.setdefault(user, credentials(user))
        except KeyError:
            report.disabled.add(script.where)
            report.findings.append(Finding("error", script.where,
                                           f"user {user} does not exist; it is not run"))
            continue
        key = (script.argv[0], creds)
        if key not in seen:  # thousands of misc_checks often share one program
            seen[key] = check_script(script.argv[0], creds, security, fs, SEARCH_PATH)
        verdict = seen[key]
        report.verdicts[script.where] = verdict
        if verdict.disabled:
            report.disabled.add(script.where)
        elif verdict.path != script.argv[0]:
            report.paths[script.where] = verdict.path
        finding = _describe(script.where, script.argv[0], verdict, security)
        if finding is not None:
            report.findings.append(finding)
        for message in verdict.messages:
            report.findings.append(Finding("info", script.where, f"keepalived: {message}"))
    line = summary(list(report.verdicts.values()), security)
    if line is not None:
        report.findings.append(Finding("warning", "global.enable_script_security", line))
    return report


def apply(config: Config, report: ScriptReport) -> Config:
    return apply_scripts(config, frozenset(report.disabled), report.paths,
                         report.default_user)


def secure_config(config: Config, log: Any) -> Config:
    """Review, log each finding (structlog logger `log`) and return the config to run."""
    report = review(config)
    for finding in report.findings:
        method = {"error": log.error, "warning": log.warning}.get(finding.level, log.info)
        method("script_security", where=finding.where, detail=finding.message)
    return apply(config, report)
