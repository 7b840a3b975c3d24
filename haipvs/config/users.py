"""The `user` / `script_user` value: the user (and group) a script runs as.

keepalived writes `user USERNAME [GROUPNAME]` (vrrp_script, MISC_CHECK) and
`script_user USERNAME [GROUPNAME]` (global_defs); haipvs writes `user` or `user:group`. The
group, when given, replaces the user's login group (lib/notify.c set_uid_gid()).
"""

from __future__ import annotations

import grp
import pwd

from haipvs.config.kinds import Text
from haipvs.config.spec import Values

USER = Text(65, r"[A-Za-z_][A-Za-z0-9_.-]*(:[A-Za-z_][A-Za-z0-9_.-]*)?", "user or user:group")


def check_user_exists(v: Values, name: str) -> None:
    """keepalived lib/notify.c set_uid_gid(), called while the config is read: an unknown
    user or group is a config error (keepalived then drops the script; haipvs rejects the
    file, naming the key)."""
    if not v.ok(name) or v[name] is None:
        return
    user, _, group = v[name].partition(":")
    try:
        pwd.getpwnam(user)
    except KeyError:
        v.error(name, f"user {user!r} does not exist on this host")
    if group:
        try:
            grp.getgrnam(group)
        except KeyError:
            v.error(name, f"group {group!r} does not exist on this host")
