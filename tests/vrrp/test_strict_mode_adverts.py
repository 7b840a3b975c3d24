"""keepalived 2.2.7 strict mode on the wire: a MASTER does not answer a lower-priority advert
(vrrp_lower_prio_no_advert, forced on: vrrp.c vrrp_state_master_rx() "if
(!vrrp->lower_prio_no_advert) vrrp_send_adv()") and sends no advert before stepping down
(vrrp_higher_prio_send_advert, forced off). Outside strict mode haipvs keeps its defaults."""

from __future__ import annotations

from haipvs.config import load_config_text
from haipvs.vrrp.core import GarpParams, SendAdvert, SendGratuitous, State
from haipvs.vrrp_binding import bindings_from_config

from .builders import PEER_V4, params, received, to_master


def test_strict_master_sends_no_advert_for_a_lower_priority_one():
    p = params(lower_prio_no_advert=True, garp=GarpParams(lower_prio_repeat=0))
    machine, now = to_master(p)
    actions = machine.handle(now + 0.5, received(p, src=PEER_V4, priority=50))
    assert machine.state == State.MASTER
    assert not [a for a in actions if isinstance(a, SendAdvert | SendGratuitous)]


def test_strict_master_steps_down_without_a_parting_advert():
    p = params(higher_prio_send_advert=False)
    machine, now = to_master(p)
    actions = machine.handle(now + 0.5, received(p, priority=150))
    assert machine.state == State.BACKUP
    assert not [a for a in actions if isinstance(a, SendAdvert)]


def test_vrrp_strict_sets_both_in_the_binding_and_plain_configs_keep_the_defaults():
    text = ("{top}vrrp_instances:\n  - name: VI_1\n    interface: eth0\n"
            "    virtual_router_id: 51\n    virtual_ipaddress: [192.0.2.10]\n")
    strict = bindings_from_config(load_config_text(
        text.format(top="global: {vrrp_strict: true}\n"), "s.yaml"))[0].params
    plain = bindings_from_config(load_config_text(text.format(top=""), "p.yaml"))[0].params
    assert (strict.lower_prio_no_advert, strict.higher_prio_send_advert) == (True, False)
    assert (plain.lower_prio_no_advert, plain.higher_prio_send_advert) == (False, True)
