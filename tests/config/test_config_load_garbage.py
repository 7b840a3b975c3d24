"""Loading a config leaves nothing for the cyclic collector: the daemon freezes everything
alive after start (gc.freeze), so a YAML node tree still waiting for a collection then stays
for the life of the process (issue 18: 18 MiB at 10,000 real servers)."""

from __future__ import annotations

import gc

import yaml

from haipvs.config import load_config_text

TEXT = """\
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    virtual_ipaddress: [192.0.2.100/24]
virtual_servers:
  - address: 192.0.2.100
    port: 80
    real_servers:
""" + "".join(f"""\
      - address: 198.51.100.{n}
        port: 80
        tcp_check: {{connect_timeout: 3}}
""" for n in range(1, 21))


def test_the_node_tree_is_freed_by_reference_counting():
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        config = load_config_text(TEXT, "test.yaml")
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        nodes = [o for o in gc.garbage if isinstance(o, yaml.Node)]
        garbage = len(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()
    assert len(config.virtual_servers[0].real_servers) == 20
    assert nodes == []
    # what is left is the scalar constructor's own small cycle (its bound-method state)
    assert garbage < 40
