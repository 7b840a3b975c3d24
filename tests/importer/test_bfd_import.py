"""keepalived 2.2.7 `bfd_instance` (bfd_parser.c) and `track_bfd` (vrrp_parser.c,
vrrp_track.c alloc_track_bfd) -> haipvs `bfd.sessions` and `track_bfd` (issue 17: the session
is BIRD's; its timers get a "changed" note)."""

from __future__ import annotations

from pathlib import Path

from haipvs.config import load_config_text
from haipvs.importer import import_keepalived

CONF = """\
bfd_instance peer {
    neighbor_ip 192.0.2.102
    min_rx 100
    min_tx 100
    multiplier 3
    weight -20
}
bfd_instance other {
    neighbour_ip 192.0.2.103
}
bfd_instance lonely {
    min_rx 50
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.50/24
    }
    track_bfd {
        peer
        other weight 10 reverse
        ghost
    }
}
"""


def test_bfd_instance_becomes_a_session_and_track_bfd_a_reference(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF)
    result = import_keepalived(conf, display="keepalived.conf")
    assert result.document["bfd"] == {"sessions": [
        {"name": "peer", "neighbor": "192.0.2.102"},
        {"name": "other", "neighbor": "192.0.2.103"}]}
    # bfd_vrrp_weight_handler: the bfd_instance's weight is the default of its users
    assert result.document["vrrp_instances"][0]["track_bfd"] == [
        {"name": "peer", "weight": -20}, {"name": "other", "weight": 10, "reverse": True}]
    notes = [str(note) for note in result.notes]
    for line, keyword in ((3, "min_rx"), (4, "min_tx"), (5, "multiplier")):
        assert any(f"keepalived.conf:{line}: {keyword}" in n and "protocol bfd" in n
                   and "docs/scale-out.md" in n for n in notes), notes
    # bfd_end_handler: no neighbor -> the instance is dropped; an unknown reference too
    assert any("bfd_instance lonely has no neighbor_ip" in n for n in notes)
    assert any("keepalived.conf:24: ghost" in n and "no bfd_instance named 'ghost'" in n
               for n in notes)


def test_imported_bfd_config_passes_haipvs_check(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF)
    result = import_keepalived(conf, display="keepalived.conf")
    config = load_config_text(result.yaml, "imported.yaml")
    assert [r.name for r in config.vrrp_instances[0].track_bfd] == ["peer", "other"]


def test_sync_group_track_bfd_goes_to_each_member(tmp_path: Path) -> None:
    """vrrp.c add_vrrp_to_track_bfd(): the members track the group's session; the group's
    weight replaces a weighted instance entry, an unweighted one stays."""
    member = ("vrrp_instance {name} {{\n    interface eth0\n    virtual_router_id {vrid}\n"
              "    priority 100\n    virtual_ipaddress {{\n        192.0.2.{vrid}/24\n    }}\n"
              "{extra}}}\n")
    conf = tmp_path / "keepalived.conf"
    conf.write_text(
        "bfd_instance peer {\n    neighbor_ip 192.0.2.102\n}\n"
        "vrrp_sync_group G {\n    group {\n        VI_1\n        VI_2\n        VI_3\n    }\n"
        "    track_bfd {\n        peer weight -30 reverse\n    }\n}\n"
        + member.format(name="VI_1", vrid=51, extra="")
        + member.format(name="VI_2", vrid=52, extra="    track_bfd {\n        peer weight 5\n"
                        "    }\n")
        + member.format(name="VI_3", vrid=53, extra="    track_bfd {\n        peer\n    }\n"))
    result = import_keepalived(conf, display="keepalived.conf")
    refs = {i["name"]: i["track_bfd"] for i in result.document["vrrp_instances"]}
    assert refs == {"VI_1": [{"name": "peer", "weight": -30, "reverse": True}],
                    "VI_2": [{"name": "peer", "weight": -30, "reverse": True}],
                    "VI_3": ["peer"]}
    assert not any("track_bfd" in str(n) for n in result.notes), result.notes
    load_config_text(result.yaml, "imported.yaml")
