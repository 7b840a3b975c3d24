"""The importer's garp_extra_if / vmac_garp_intvl (vrrp_parser.c
vrrp_garp_extra_if_handler()) and vrrp_garp_extra_if / vrrp_vmac_garp_intvl
(global_parser.c vrrp_vmac_garp_extra_if_handler()) -> garp.extra_if(_all), with
keepalived's defaulting (vrrp.c vrrp_complete_instance()) and reading quirks."""

from __future__ import annotations

from pathlib import Path

from haipvs.config import load_config_text
from haipvs.importer import import_keepalived
from haipvs.importer.notes import NOT_TRANSLATED


def instance(name: str, lines: str) -> str:
    return (f"vrrp_instance {name} {{\n  interface eth0\n  virtual_router_id "
            f"{10 + int(name[-1])}\n{lines}  virtual_ipaddress {{\n    192.0.2.{name[-1]}\n"
            "  }\n}\n")


def translate(tmp_path: Path, text: str):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(text)
    result = import_keepalived(conf)
    load_config_text(result.yaml)
    garps = {i["name"]: i.get("garp", {}) for i in result.document["vrrp_instances"]}
    notes = {(n.keyword, n.kind) for n in result.notes}
    return garps, notes


def test_instance_setting_and_its_deprecated_name(tmp_path: Path):
    garps, notes = translate(tmp_path, instance("V1", "  garp_extra_if 30 all\n")
                             + instance("V2", "  vmac_garp_intvl 7\n"))
    assert garps["V1"] == {"extra_if": 30, "extra_if_all": True}
    assert garps["V2"] == {"extra_if": 7, "extra_if_all": False}
    assert not notes


def test_global_is_the_default_of_instances_without_their_own(tmp_path: Path):
    text = ("global_defs {\n  vrrp_vmac_garp_intvl 20 all\n}\n"
            + instance("V1", "") + instance("V2", "  garp_extra_if 5\n")
            + instance("V3", "  garp_extra_if all\n"))
    garps, _ = translate(tmp_path, text)
    assert garps["V1"] == {"extra_if": 20, "extra_if_all": True}
    # an instance with its own delay keeps its own `all` flag (unset here)
    assert garps["V2"] == {"extra_if": 5, "extra_if_all": False}
    # `all` without a delay: keepalived ignores the line but keeps the flag, and the
    # instance takes the global delay
    assert garps["V3"] == {"extra_if_all": True, "extra_if": 20}


def test_keepalived_ignores_a_global_zero_and_bad_words(tmp_path: Path):
    # global_parser.c reads the global delay in 1..86400; the instance's in 0..86400
    text = ("global_defs {\n  vrrp_garp_extra_if 0\n}\n"
            + instance("V1", "  garp_extra_if 0\n") + instance("V2", "  garp_extra_if 5s\n"))
    garps, notes = translate(tmp_path, text)
    assert garps["V1"] == {"extra_if": 0, "extra_if_all": False}
    assert garps["V2"] == {}
    assert ("vrrp_garp_extra_if", NOT_TRANSLATED) in notes
    assert ("garp_extra_if", NOT_TRANSLATED) in notes
