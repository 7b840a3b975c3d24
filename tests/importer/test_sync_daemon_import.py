"""`lvs_sync_daemon` imported as keepalived 2.2.7 reads it (core/global_parser.c
lvs_syncd_handler, vrrp.c vrrp_complete_init): the importer's result agrees with the
independent reader (kaconf_reader.py) on every form, and each ignored word is noted."""

from __future__ import annotations

from pathlib import Path

import pytest

from haipvs.config import load_config_text
from haipvs.importer import import_keepalived
from tests.importer.kaconf_reader import read_conf
from tests.importer.test_real_corpus import haipvs_facts

INSTANCE = ("vrrp_instance V {\n interface eth1\n virtual_router_id 9\n priority 100\n"
            " virtual_ipaddress {\n  192.0.2.10\n }\n}\n")

CASES = {
    # keyword form with every option
    "options": ("lvs_sync_daemon eth1 inst V id 5 maxlen 1400 port 9000 ttl 3 group 239.1.2.3",
                ("eth1", "V", 5, 1400, 9000, 3, "239.1.2.3"), []),
    # no id: the VRID (vrrp.c vrrp_complete_init "If no syncid configured, use vrid")
    "vrid": ("lvs_sync_daemon eth1 V", ("eth1", "V", 9, None, None, None, None), []),
    # the old positional id ("Please use keyword "id" before lvs_sync_daemon SYNCID")
    "old-id": ("lvs_sync_daemon eth1 V 7", ("eth1", "V", 7, None, None, None, None),
               ["the sync id without `id`"]),
    # no instance: check_daemon.c start_check runs master and backup, id 0
    "no-instance": ("lvs_sync_daemon eth1 group ff02::81",
                    ("eth1", None, 0, None, None, None, "ff02::81"), []),
    # bad values keep the defaults ("Invalid ... - ignoring", "not multicast - ignoring")
    "bad-values": ("lvs_sync_daemon eth1 V maxlen 65508 ttl 0 port x group 192.0.2.1 id 300",
                   ("eth1", "V", 9, None, None, None, None),
                   ["maxlen 65508", "ttl 0", "port x", "group 192.0.2.1", "id 300"]),
    "unknown-word": ("lvs_sync_daemon eth1 V 7 extra", ("eth1", "V", 7, None, None, None, None),
                     ["unknown option 'extra'"]),
    # vrrp.c vrrp_complete_init: "... for lvs_syncd - clearing lvs_syncd config"
    "unknown-instance": ("lvs_sync_daemon eth1 inst W", None, ["'W', which was not translated"]),
    "long-name": ("lvs_sync_daemon eth1234567890abcd V", None, ["too long"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_lvs_syncd_handler_forms(case: str, tmp_path: Path) -> None:
    line, expected, notes = CASES[case]
    conf = tmp_path / "keepalived.conf"
    conf.write_text(f"global_defs {{\n {line}\n}}\n{INSTANCE}", encoding="utf-8")
    result = import_keepalived(conf, display="keepalived.conf")
    config = load_config_text(result.yaml, "imported.yaml")
    ours = haipvs_facts(config).get("lvs_sync_daemon")
    reader = read_conf(str(conf)).get("lvs_sync_daemon")
    assert ours == expected
    assert (reader.value if reader else None) == expected
    text = [n.why for n in result.notes if n.line == 2]
    for want in notes:
        assert any(want in t for t in text), text
