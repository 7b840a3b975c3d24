"""`sorry_server_inhibit` as keepalived 2.2.7 (check_parser.c ssvri_handler; ipwrapper.c
init_service_vs / update_quorum_state; ipvswrapper.c ipvs_cmd turning the sorry server's
DEL_DEST into an EDIT_DEST to weight 0): the sorry server stays in the table at weight 0 while
the quorum is up and takes its weight while it is lost."""

from __future__ import annotations

from pathlib import Path

from haipvs.importer import import_keepalived
from haipvs.ipvs.desired import RealServerHealth, desired_table, service_key
from haipvs.ipvs.model import Destination
from haipvs.policy.sorry_inhibit import with_inhibited_sorry
from tests.policy.director_support import config

YAML = """
virtual_servers:
  - address: 192.0.2.100
    port: 80
    protocol: TCP
    sorry_server: {{address: {sorry}, port: 80, weight: 3{inhibit}}}
    real_servers:
      - {{address: 198.51.100.10, port: 80, weight: 2}}
      - {{address: 198.51.100.11, port: 80}}
"""


class Health:
    def __init__(self, down: set[str]) -> None:
        self.down = down

    def health(self, service, dest):
        return RealServerHealth(dest.address not in self.down)


def table(*, inhibit: bool, down: set[str], sorry: str = "203.0.113.9"):
    cfg = config(YAML.format(sorry=sorry, inhibit=", inhibit: true" if inhibit else ""))
    vs = cfg.virtual_servers[0]
    service = desired_table(cfg, Health(down)).get(service_key(vs))
    return [(d.address, d.weight) for d in service.destinations]


def test_an_inhibited_sorry_server_is_in_the_table_at_weight_0_while_the_quorum_is_up():
    """init_service_vs(): "Make sure the sorry server is configured with weight 0"."""
    assert table(inhibit=True, down=set()) == [
        ("198.51.100.10", 2), ("198.51.100.11", 1), ("203.0.113.9", 0)]


def test_without_inhibit_the_sorry_server_is_absent_while_the_quorum_is_up():
    assert table(inhibit=False, down=set()) == [("198.51.100.10", 2), ("198.51.100.11", 1)]


def test_an_inhibited_sorry_server_takes_its_weight_when_the_quorum_is_lost():
    """update_quorum_state(): "Enabling sorry server" (ADD_DEST of a set, inhibited server
    is EDIT_DEST with its weight), the live real servers removed as without inhibit."""
    down = {"198.51.100.10", "198.51.100.11"}
    assert table(inhibit=True, down=down) == [("203.0.113.9", 3)]
    assert table(inhibit=False, down=down) == [("203.0.113.9", 3)]


def test_a_sorry_server_that_is_a_real_server_is_not_added_twice():
    """init_service_vs(): s_svr_duplicates_rs: the real server's own entry is the sorry
    server; it keeps the real server's weight."""
    assert table(inhibit=True, down=set(), sorry="198.51.100.11") == [
        ("198.51.100.10", 2), ("198.51.100.11", 1)]


def test_pure_rule():
    sorry = Destination("203.0.113.9", 80, weight=0)
    real = Destination("198.51.100.10", 80, weight=2)
    assert with_inhibited_sorry([real], sorry, [real.key]) == (real, sorry)
    assert with_inhibited_sorry([real], real, [real.key]) == (real,)


def test_importer_translates_sorry_server_inhibit_after_sorry_server(tmp_path: Path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text("virtual_server 192.0.2.100 80 {\n  protocol TCP\n"
                    "  sorry_server 203.0.113.9 80\n  sorry_server_inhibit\n"
                    "  real_server 198.51.100.10 80 {\n  }\n}\n"
                    "virtual_server 192.0.2.101 80 {\n  protocol TCP\n"
                    "  sorry_server_inhibit\n  sorry_server 203.0.113.9 80\n"
                    "  real_server 198.51.100.10 80 {\n  }\n}\n")
    result = import_keepalived(conf)
    first, second = result.document["virtual_servers"]
    assert first["sorry_server"] == {"address": "203.0.113.9", "port": 80, "inhibit": True}
    # check_parser.c ssvri_handler(): "Ignoring sorry_server inhibit used before or without
    # sorry_server"
    assert "inhibit" not in second["sorry_server"]
    assert [d.keyword for d in result.dropped] == ["sorry_server_inhibit"]
