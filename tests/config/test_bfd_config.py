"""The `bfd` section and `track_bfd` (issue 17, haipvs/config/bfd.py): BFD sessions named by
BIRD's neighbor, used by keepalived-style track_bfd (vrrp_parser.c: `NAME [weight W
[reverse]]`, weight 0 by default, vrrp_track.c alloc_track_bfd)."""

from __future__ import annotations

import pytest

from haipvs import limits
from haipvs.config import ConfigError, load_config_text

CONFIG = """\
bfd:
  sessions:
    - {name: peer, neighbor: 192.0.2.102}
    - {name: peer2, neighbor: 192.0.2.103, interface: eth1}
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    priority: 100
    virtual_ipaddress: [192.0.2.50/24]
    track_bfd: [peer, {name: peer2, weight: -10, reverse: true}]
"""


def test_bfd_sessions_and_track_bfd_defaults():
    config = load_config_text(CONFIG, "bfd.yaml")
    assert config.bfd.control_socket == limits.BFD_DEFAULT_CONTROL_SOCKET == "/run/bird/bird.ctl"
    assert config.bfd.poll_interval == limits.BFD_DEFAULT_POLL_INTERVAL == 0.1
    assert [(s.name, str(s.neighbor), s.interface) for s in config.bfd.sessions] == [
        ("peer", "192.0.2.102", None), ("peer2", "192.0.2.103", "eth1")]
    refs = config.vrrp_instances[0].track_bfd
    # keepalived alloc_track_bfd: no weight -> 0 (FAULT while down), not reversed
    assert [(r.name, r.weight, r.reverse) for r in refs] == [("peer", 0, False),
                                                             ("peer2", -10, True)]


def test_unknown_session_name_is_an_error_naming_where():
    with pytest.raises(ConfigError) as caught:
        load_config_text(CONFIG.replace("track_bfd: [peer,", "track_bfd: [nope,"), "bfd.yaml")
    assert ("bfd.yaml:11: vrrp_instances[0].track_bfd[0]: no bfd.sessions entry named 'nope'"
            in str(caught.value))


def test_track_bfd_without_a_bfd_section_is_an_error():
    text = CONFIG.split("vrrp_instances:")[1]
    with pytest.raises(ConfigError, match="there is no bfd section"):
        load_config_text("vrrp_instances:" + text, "bfd.yaml")


def test_a_session_name_is_defined_once():
    text = CONFIG.replace("name: peer2,", "name: peer,")
    with pytest.raises(ConfigError, match="'peer' is already defined at line 3"):
        load_config_text(text, "bfd.yaml")


def test_session_name_is_keepalived_bfd_iname_max():
    long = "x" * (limits.BFD_NAME_MAX + 1)
    with pytest.raises(ConfigError, match=r"bfd\.sessions"):
        load_config_text(CONFIG.replace("{name: peer,", "{name: " + long + ","), "bfd.yaml")
