"""The default script user and a script's credentials: the part of keepalived's script
rules (haipvs/policy/script_security.py) every start and reload needs, with or without
scripts: haipvs/script_creds.py fills in the default user (global.script_user) at load, as
keepalived's get_default_script_user() (lib/notify.c). Kept apart so that an idle director
without scripts does not load the path checks (issue 18, "import only what a config uses").
"""

from __future__ import annotations

from haipvs.dataclass_lean import dataclass

DEFAULT_SCRIPT_USER = "keepalived_script"  # lib/notify.c get_default_script_user()


@dataclass(frozen=True)
class Credentials:
    """The uid:gid a script runs as (set_script_env: setgid, setgroups(1, &gid), setuid)."""

    uid: int
    gid: int


@dataclass(frozen=True)
class DefaultUser:
    """get_default_script_user(): the user name (and group) scripts without their own
    `user` run as, or None with `error` when there is none (they are disabled then)."""

    user: str | None
    error: str | None = None


def default_user(script_user: str | None, keepalived_script_exists: bool, our_user: str,
                 security: bool) -> DefaultUser:
    """`script_user` ("user" or "user:group") if set; else keepalived_script if it exists;
    else the daemon's own user (`our_user`, "name:group"), which with enable_script_security
    is an error in keepalived (and leaves those scripts disabled)."""
    if script_user is not None:
        return DefaultUser(script_user)
    if keepalived_script_exists:
        return DefaultUser(DEFAULT_SCRIPT_USER)
    if security:
        return DefaultUser(None, f"Unable to set default user {DEFAULT_SCRIPT_USER} for script"
                                 " (enable_script_security needs it, or set script_user)")
    return DefaultUser(our_user)
