"""virtual_server_group on real IPVS, keepalived 2.2.7 as the oracle (issue 16, engineer D):
a group of a range (`ADDR-N`), a CIDR and a fwmark (check_data.c alloc_vsg_entry) becomes one
IPVS service per address and per fwmark, each with the virtual server's real servers
(ipvswrapper.c ipvs_group_range_cmd / ipvs_group_cmd: DR destinations take the member's port).
keepalived (`-C`) and haipvs (the importer keeps the group as `group:`, the daemon's start path)
program the same file in turn; `ipvsadm -Ln` must be the same.

Runs only in the qemu guest:

    integration/qemu/run-in-guest -- .venv/bin/python -m pytest -p no:cacheprovider \
        integration/qemu_tests/test_vs_group_oracle.py
"""

from __future__ import annotations

import shutil

import oracle_run
import pytest

from haipvs.config import load_config_text
from haipvs.importer import import_keepalived

CONF = """\
virtual_server_group WEB {
    192.0.2.50-52 80
    198.51.100.0/30 8080
    fwmark 7
}
virtual_server group WEB {
    protocol TCP
    lb_algo wrr
    lb_kind DR
    real_server 203.0.113.10 80 {
        weight 3
    }
    real_server 203.0.113.11 80 {
        weight 2
    }
}
"""


@pytest.mark.skipif(shutil.which(oracle_run.KEEPALIVED) is None,
                    reason="keepalived not installed")
async def test_group_range_cidr_fwmark_programs_what_keepalived_programs(director, tmp_path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF)
    imported = load_config_text(import_keepalived(conf).yaml, "t.yaml")
    assert imported.virtual_servers[0].group is not None  # kept as a group, not expanded
    ka = oracle_run.keepalived_table(director, conf, tmp_path / "keepalived")
    assert ka.ready, ka.log[-2000:]
    hv = await oracle_run.haipvs_table(director, conf)
    oracle_run.clear(director)
    assert not hv.error
    print("keepalived:", ka.table, "\nhaipvs:", hv.table)
    assert hv.table == ka.table
    # 3 range addresses + a /30 (4 addresses) + the fwmark
    assert len(hv.table) == 8
    assert "FWM 7" in hv.table
    entry = hv.table["TCP 198.51.100.2:8080"]
    # DR: each member's port (ipvs_group_cmd), the same two real servers everywhere
    assert [d.split()[1] for d in entry.dests] == ["203.0.113.10:8080", "203.0.113.11:8080"]
