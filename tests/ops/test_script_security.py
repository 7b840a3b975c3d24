"""keepalived 2.2.7 lib/notify.c script security, as the pure rules in
haipvs/policy/script_security.py (the file system is a dict of stat results here).

Each test names the keepalived function whose behaviour it follows: check_script_secure(),
check_security(), is_executable(), find_path(), get_default_script_user(), and vrrp.c
check_vrrp_script_security() for the summary line.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field

from haipvs.policy.script_security import (
    DEFAULT_SCRIPT_USER,
    Credentials,
    FileFacts,
    Sc,
    check_script,
    default_user,
    is_executable,
    path_security,
    summary,
)

ROOT = Credentials(0, 0)
NOBODY = Credentials(65534, 65534)
DIR = stat.S_IFDIR | 0o755
FILE = stat.S_IFREG | 0o755
LINK = stat.S_IFLNK | 0o777
SEARCH = ("/usr/sbin", "/usr/bin")


@dataclass
class FakeFs:
    """lstat facts per path; stat follows `links`; realpath resolves them too."""

    entries: dict[str, FileFacts] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)

    def add(self, path: str, mode: int = FILE, uid: int = 0, gid: int = 0) -> FakeFs:
        parts = path.strip("/").split("/")
        for i in range(len(parts)):
            parent = "/" + "/".join(parts[:i])
            self.entries.setdefault(parent, FileFacts(DIR, 0, 0, ino=hash(parent)))
        self.entries[path] = FileFacts(mode, uid, gid, ino=hash(path))
        return self

    def link(self, path: str, target: str, uid: int = 0) -> FakeFs:
        self.add(path, LINK, uid)
        self.links[path] = target
        return self

    def lstat(self, path: str) -> FileFacts | None:
        return self.entries.get(path)

    def realpath(self, path: str) -> str | None:
        for _ in range(10):
            if path in self.links:
                path = self.links[path]
            elif path not in self.entries:
                return None
            else:
                return path
        return None

    def stat(self, path: str) -> FileFacts | None:
        real = self.realpath(path)
        return None if real is None else self.entries[real]


def test_is_executable_root_needs_any_x_bit_others_their_own_class():
    # lib/notify.c is_executable()
    assert is_executable(FileFacts(FILE & ~0o100 & ~0o010 | 0o001, 5, 5), 0, 0)
    assert not is_executable(FileFacts(stat.S_IFREG | 0o644, 0, 0), 0, 0)
    owner_only = FileFacts(stat.S_IFREG | 0o700, 1000, 1000)
    assert is_executable(owner_only, 1000, 50)
    assert not is_executable(owner_only, 1001, 1000)  # owner bits only count for the owner
    group_only = FileFacts(stat.S_IFREG | 0o710, 0, 1000)
    assert is_executable(group_only, 1001, 1000)
    assert not is_executable(group_only, 1001, 1001)
    other = FileFacts(stat.S_IFREG | 0o701, 0, 0)
    assert is_executable(other, 65534, 65534)
    # the owner is judged by the owner bits alone, even if the others may run it
    assert not is_executable(FileFacts(stat.S_IFREG | 0o601, 1000, 0), 1000, 1000)


def test_check_security_walks_from_the_root_and_stops_at_the_first_unsafe_component():
    # check_security(): "/" first, then each prefix; a world-writable directory without the
    # sticky bit makes the script insecure
    fs = FakeFs().add("/opt/ww", DIR | 0o777).add("/opt/ww/s.sh")
    result = path_security("/opt/ww/s.sh", fs, security=True)
    assert result.flags == Sc.INSECURE | Sc.INHIBIT
    assert result.component == "/opt/ww"
    assert "world-writable" in result.reason
    assert result.message == "Unsafe permissions found for script '/opt/ww/s.sh' - disabling."


def test_check_security_without_script_security_marks_insecure_but_does_not_inhibit():
    fs = FakeFs().add("/opt/ww", DIR | 0o777).add("/opt/ww/s.sh")
    result = path_security("/opt/ww/s.sh", fs, security=False)
    assert result.flags == Sc.INSECURE
    assert result.message == "Unsafe permissions found for script '/opt/ww/s.sh'."


def test_check_security_a_sticky_world_writable_directory_is_safe():
    # (S_ISDIR && !S_ISVTX): /tmp (1777, root) is allowed; the file itself is checked
    fs = FakeFs().add("/tmp", DIR | 0o1777).add("/tmp/s.sh")
    assert path_security("/tmp/s.sh", fs, True).flags == Sc.NONE
    fs.add("/tmp/t.sh", FILE | 0o002)
    assert path_security("/tmp/t.sh", fs, True).component == "/tmp/t.sh"


def test_check_security_a_component_not_owned_by_root_is_unsafe():
    fs = FakeFs().add("/home/op", DIR, uid=1000).add("/home/op/s.sh")
    result = path_security("/home/op/s.sh", fs, True)
    assert (result.component, result.reason) == ("/home/op", "owned by uid 1000, not root")


def test_check_security_group_write_counts_only_for_a_non_root_group():
    fs = FakeFs().add("/srv", DIR | 0o775, gid=0).add("/srv/s.sh", FILE | 0o775, gid=0)
    assert path_security("/srv/s.sh", fs, True).flags == Sc.NONE
    fs.add("/srv/g.sh", FILE | 0o775, gid=50)
    result = path_security("/srv/g.sh", fs, True)
    assert result.component == "/srv/g.sh" and "group 50" in result.reason


def test_check_security_wrong_file_types_inhibit_even_without_script_security():
    # "Wrong file type found in script path": not a directory above, a FIFO at the end
    fs = FakeFs().add("/srv/f", stat.S_IFIFO | 0o755)
    result = path_security("/srv/f", fs, False)
    assert result.flags == Sc.INHIBIT
    assert result.message == "Wrong file type found in script path '/srv/f'."


def test_check_security_a_symlink_as_last_component_is_judged_by_its_owner_only():
    fs = FakeFs().add("/usr/bin/dash").link("/usr/bin/sh", "/usr/bin/dash")
    assert path_security("/usr/bin/sh", fs, True).flags == Sc.NONE
    fs.link("/usr/bin/evil", "/usr/bin/dash", uid=1000)
    assert path_security("/usr/bin/evil", fs, True).component == "/usr/bin/evil"


def test_check_security_a_missing_component_is_notfound():
    result = path_security("/nowhere/s.sh", FakeFs(), True)
    assert result.flags == Sc.NOTFOUND
    assert result.message == "check_script_secure could not find script '/nowhere/s.sh' - disabling"


def test_check_script_secure_root_script_in_an_unsafe_directory_is_refused_with_security():
    fs = FakeFs().add("/etc/ka", DIR | 0o777).add("/etc/ka/chk.sh")
    verdict = check_script("/etc/ka/chk.sh", ROOT, True, fs, SEARCH)
    assert verdict.disabled and verdict.insecure
    assert verdict.flags == Sc.ISSCRIPT | Sc.EXECUTABLE | Sc.INSECURE | Sc.INHIBIT
    assert verdict.insecure_component == "/etc/ka"


def test_check_script_secure_insecure_without_security_still_runs():
    fs = FakeFs().add("/etc/ka", DIR | 0o777).add("/etc/ka/chk.sh")
    verdict = check_script("/etc/ka/chk.sh", ROOT, False, fs, SEARCH)
    assert verdict.insecure and not verdict.disabled


def test_check_script_secure_only_protects_scripts_run_with_uid_or_gid_0():
    # need_script_protection: uid 0, gid 0, or a set-uid/set-gid root file
    fs = FakeFs().add("/etc/ka", DIR | 0o777).add("/etc/ka/chk.sh")
    verdict = check_script("/etc/ka/chk.sh", NOBODY, True, fs, SEARCH)
    assert verdict.flags == Sc.ISSCRIPT | Sc.EXECUTABLE and not verdict.disabled
    assert check_script("/etc/ka/chk.sh", Credentials(65534, 0), True, fs, SEARCH).disabled
    fs.add("/etc/ka/suid.sh", FILE | stat.S_ISUID)
    assert check_script("/etc/ka/suid.sh", NOBODY, True, fs, SEARCH).disabled


def test_check_script_secure_not_executable_for_the_user_is_disabled():
    fs = FakeFs().add("/etc/ka/chk.sh", stat.S_IFREG | 0o744)
    verdict = check_script("/etc/ka/chk.sh", NOBODY, False, fs, SEARCH)
    assert verdict.disabled and not verdict.flags & Sc.EXECUTABLE
    assert verdict.messages == ("WARNING - script '/etc/ka/chk.sh' is not executable for "
                                "uid:gid 65534:65534 - disabling.",)


def test_check_script_secure_missing_script_is_notfound():
    verdict = check_script("/etc/ka/none.sh", ROOT, False, FakeFs(), SEARCH)
    assert verdict.flags == Sc.NOTFOUND and verdict.disabled


def test_check_script_secure_realpath_as_the_user_needs_search_permission():
    # realpath() runs with the script's euid: a directory it cannot search hides the file
    fs = FakeFs().add("/root", DIR & ~0o077).add("/root/chk.sh")
    assert check_script("/root/chk.sh", NOBODY, False, fs, SEARCH).flags == Sc.NOTFOUND
    assert not check_script("/root/chk.sh", ROOT, False, fs, SEARCH).disabled


def test_find_path_resolves_a_bare_name_and_warns():
    fs = FakeFs().add("/usr/bin/chk")
    verdict = check_script("chk", ROOT, True, fs, SEARCH)
    assert verdict.path == "/usr/bin/chk" and not verdict.disabled
    assert verdict.messages[0] == ("WARNING - script `chk` resolved by path search to "
                                   "`/usr/bin/chk`. Please specify full path.")
    missing = check_script("nochk", ROOT, True, fs, SEARCH)
    assert missing.messages == ("Cannot find script nochk in path - disabling",)
    fs.add("/usr/sbin/noexec", stat.S_IFREG | 0o644)
    denied = check_script("noexec", ROOT, True, fs, SEARCH)
    assert denied.messages == ("Permissions failure for script noexec in path - disabling",)


def test_check_script_secure_keeps_the_file_name_part_and_checks_both_paths():
    # /bin/sh -> /usr/bin/dash: run as /usr/bin/sh (same inode), check /usr/bin/sh and dash
    fs = FakeFs().add("/usr/bin/dash").link("/usr/bin/sh", "/usr/bin/dash")
    fs.link("/bin", "/usr/bin")
    fs.links["/bin/sh"] = "/usr/bin/sh"
    fs.entries["/bin/sh"] = fs.entries["/usr/bin/sh"]
    verdict = check_script("/bin/sh", ROOT, True, fs, SEARCH)
    assert verdict.path == "/usr/bin/sh" and not verdict.disabled
    fs.entries["/usr/bin/dash"] = FileFacts(FILE, 1000, 0)  # the real file is not root's
    verdict = check_script("/bin/sh", ROOT, True, fs, SEARCH)
    assert verdict.disabled and verdict.insecure_component == "/usr/bin/dash"


def test_check_script_secure_a_symlinked_directory_is_resolved_first():
    # realpath: the checked path is the resolved one, so a symlink to a safe place is fine
    fs = FakeFs().add("/opt/real/chk.sh").link("/etc/ka", "/opt/real")
    fs.links["/etc/ka/chk.sh"] = "/opt/real/chk.sh"
    verdict = check_script("/etc/ka/chk.sh", ROOT, True, fs, SEARCH)
    assert verdict.path == "/opt/real/chk.sh" and not verdict.disabled


def test_get_default_script_user_order():
    assert default_user("ops:ops", True, "root:root", True).user == "ops:ops"
    assert default_user(None, True, "root:root", True).user == DEFAULT_SCRIPT_USER
    assert default_user(None, False, "root:root", False).user == "root:root"
    failed = default_user(None, False, "root:root", True)
    assert failed.user is None
    assert "Unable to set default user keepalived_script for script" in failed.error


def test_check_vrrp_script_security_summary_line():
    fs = FakeFs().add("/etc/ka", DIR | 0o777).add("/etc/ka/chk.sh").add("/usr/bin/ok")
    safe = check_script("/usr/bin/ok", ROOT, False, fs, SEARCH)
    unsafe = check_script("/etc/ka/chk.sh", ROOT, False, fs, SEARCH)
    assert summary([safe], False) == ("SECURITY VIOLATION - scripts are being executed but "
                                      "script_security not enabled.")
    assert summary([safe, unsafe], False).endswith(" There are insecure scripts.")
    assert summary([safe, unsafe], True) is None
    assert summary([], False) is None
