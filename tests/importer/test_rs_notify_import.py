"""real_server notify_up / notify_down and quorum_up / quorum_down in the importer:
check_parser.c notify_up_handler / notify_down_handler (notify_script_init(0): a quoted
command line, then the script's USER [GROUP]; a second one is ignored) and
quorum_up_handler / quorum_down_handler; global_parser.c rs_init_notifies_handler."""

from __future__ import annotations

from pathlib import Path

from haipvs.config import load_config_text
from haipvs.config.notify_script import ScriptCommand
from haipvs.importer import import_keepalived
from haipvs.importer.notes import NOT_TRANSLATED

CONF = """\
global_defs {
  rs_init_notifies
}
virtual_server 192.0.2.10 80 {
  protocol TCP
  quorum_up "/usr/local/bin/pool up" nobody nogroup
  quorum_down "/usr/local/bin/pool down"
  real_server 198.51.100.1 80 {
    notify_up "/usr/local/bin/rs-state up 'web 1'" nobody
    notify_down "/usr/local/bin/rs-state down"
    notify_down "/usr/local/bin/second"
    TCP_CHECK {
      connect_timeout 3
    }
  }
}
"""


def test_real_server_and_quorum_scripts_translate_with_their_users(tmp_path: Path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF)
    result = import_keepalived(conf)
    vs = result.document["virtual_servers"][0]
    assert vs["quorum_up"] == {"command": ["/usr/local/bin/pool", "up"], "user": "nobody",
                               "group": "nogroup"}
    assert vs["quorum_down"] == ["/usr/local/bin/pool", "down"]
    rs = vs["real_servers"][0]
    assert rs["notify_up"] == {"command": ["/usr/local/bin/rs-state", "up", "web 1"],
                               "user": "nobody"}
    assert rs["notify_down"] == ["/usr/local/bin/rs-state", "down"]
    notes = {(n.line, n.keyword, n.kind) for n in result.notes}
    assert notes == {(11, "notify_down", NOT_TRANSLATED)}  # keepalived keeps the first
    assert result.document["global"] == {"rs_init_notifies": True}
    loaded = load_config_text(result.yaml).virtual_servers[0]
    assert loaded.quorum_up == ScriptCommand(("/usr/local/bin/pool", "up"), "nobody",
                                             "nogroup")
    assert loaded.real_servers[0].notify_up.run_as == "nobody"
