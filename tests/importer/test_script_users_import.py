"""keepalived's script users in the importer (haipvs/importer/script_users.py):
global_parser.c script_user_handler / script_security_handler, vrrp_parser.c
vrrp_vscript_user_handler, check_misc.c misc_user_handler, and lib/notify.c
notify_script_init (a user and group after the notify command line)."""

from __future__ import annotations

from pathlib import Path

from haipvs.config import load_config_text
from haipvs.importer import import_keepalived
from haipvs.importer.notes import NOT_TRANSLATED

CONF = """\
global_defs {
  script_user nobody nogroup
  enable_script_security
  notify_fifo /run/k.fifo nobody nogroup
  notify_fifo_script "/usr/local/sbin/fifo.sh -v" root
}
vrrp_script chk {
  script "/usr/bin/test -e /run/ok"
  user nobody
}
vrrp_script chk2 {
  script /usr/bin/true
  user nobody daemon
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority 100
  virtual_ipaddress {
    192.0.2.10/24
  }
  track_script {
    chk
    chk2
  }
  notify_master "/usr/local/sbin/master.sh now" nobody nogroup
  notify_backup "/usr/local/sbin/backup.sh" root
  notify_fault /usr/local/sbin/fault.sh now
}
virtual_server 192.0.2.10 80 {
  protocol TCP
  real_server 198.51.100.1 80 {
    MISC_CHECK {
      misc_path /usr/bin/true
      user nobody nogroup
    }
  }
}
"""


def test_script_users_translate(tmp_path: Path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF)
    result = import_keepalived(conf)
    document = result.document
    assert document["global"]["script_user"] == "nobody:nogroup"
    assert document["global"]["enable_script_security"] is True
    scripts = {s["name"]: s for s in document["vrrp_scripts"]}
    assert scripts["chk"]["user"] == "nobody"
    assert scripts["chk2"]["user"] == "nobody:daemon"
    instance = document["vrrp_instances"][0]
    # the words after a quoted command are its user: the same as script_user, nothing lost
    assert instance["notify_master"] == ["/usr/local/sbin/master.sh", "now"]
    # its own user (root), not script_user: kept (lib/notify.c notify_script_init)
    assert instance["notify_backup"] == {"command": ["/usr/local/sbin/backup.sh"],
                                         "user": "root"}
    # unquoted too, the word after the command is its user (keepalived reads `now` as
    # the user, finds none and ignores the script): not translated, with a note
    assert "notify_fault" not in instance
    misc = document["virtual_servers"][0]["real_servers"][0]["misc_check"]
    assert misc["user"] == "nobody:nogroup"
    notes = {(n.line, n.keyword, n.kind) for n in result.notes}
    assert not any(keyword == "notify_backup" for _, keyword, _ in notes), notes
    assert (28, "notify_fault", NOT_TRANSLATED) in notes
    # the FIFO's user is script_user (kept); the FIFO script has its own
    assert document["global"]["notify_fifo_script"] == {
        "command": ["/usr/local/sbin/fifo.sh", "-v"], "user": "root"}
    assert not any(keyword == "notify_fifo_script" for _, keyword, _ in notes), notes
    assert not any(keyword == "notify_fifo" for _, keyword, _ in notes), notes
    assert not any(keyword in ("script_user", "enable_script_security", "user",
                               "notify_master") for _, keyword, _ in notes), notes
    load_config_text(result.yaml)  # the users exist here: a valid file
