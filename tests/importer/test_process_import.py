"""keepalived's process options in the importer (haipvs/importer/process.py):
global_parser.c init_global_keywords() top-level `instance`, `net_namespace`, ... and the
global_defs startup/shutdown scripts."""

from __future__ import annotations

from pathlib import Path

from haipvs.config import load_config_text
from haipvs.importer import import_keepalived
from haipvs.importer.notes import CHANGED, NOT_TRANSLATED

CONF = """\
instance lb1
net_namespace ns1
net_namespace_ipvs ns2
global_defs {
  startup_script "/usr/local/sbin/up.sh --fast" nobody
  startup_script_timeout 20
  shutdown_script /usr/local/sbin/down.sh
  shutdown_script_timeout 2000
  data_use_instance
}
instance lb2
"""


def test_process_options_translate_to_global(tmp_path: Path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF)
    result = import_keepalived(conf)
    assert result.document["global"] == {
        "instance": "lb1", "net_namespace": "ns1",
        "startup_script": {"command": ["/usr/local/sbin/up.sh", "--fast"], "user": "nobody"},
        "startup_script_timeout": 20,
        "shutdown_script": ["/usr/local/sbin/down.sh"]}
    notes = {(n.line, n.keyword, n.kind) for n in result.notes}
    assert notes == {
        (3, "net_namespace_ipvs", NOT_TRANSLATED),  # IPVS in another namespace
        (8, "shutdown_script_timeout", NOT_TRANSLATED),  # out of [1, 1000]
        (9, "data_use_instance", CHANGED),  # haipvs always separates instances
        (11, "instance", NOT_TRANSLATED),  # keepalived keeps the first
    }
    config = load_config_text(result.yaml, "out.yaml")
    assert config.global_settings.state_dir == "/run/haipvs/netns/ns1/lb1"
