"""Service options on real IPVS, keepalived 2.2.7 as the oracle (issue 16, engineer H):
`sorry_server_inhibit` (the sorry server at weight 0 while the quorum is up: ipwrapper.c
init_service_vs), `uthreshold` / `lthreshold` (check_parser.c; ipvswrapper.c
ipvs_set_drule) and `persistence_engine sip` (check_parser.c pengine_handler, the kernel's
ip_vs_pe_sip). keepalived (`-C`) and haipvs (the importer's translation, the daemon's start
path) program the same file in turn; `ipvsadm -Ln` and `ipvsadm -Ln --thresholds` must be
the same, and show those values.

Runs only in the qemu guest:

    integration/qemu/run-in-guest -- .venv/bin/python -m pytest -p no:cacheprovider \
        integration/qemu_tests/test_service_options.py
"""

from __future__ import annotations

import shutil

import oracle_run
import pytest
from conftest import sh

CONF = """\
virtual_server 192.0.2.50 5060 {
    protocol UDP
    lb_algo rr
    lb_kind NAT
    persistence_timeout 300
    persistence_engine sip
    quorum 4
    sorry_server 203.0.113.9 5060
    sorry_server_inhibit
    real_server 198.51.100.10 5060 {
        weight 3
        uthreshold 100
        lthreshold 10
    }
    real_server 198.51.100.11 5060 {
        weight 2
    }
}
"""


def full_table(ns: str) -> dict[str, list[str]]:
    """Per service: its -Ln lines then its --thresholds lines, whitespace collapsed and
    connection counters dropped (empty when IPVS is empty, as oracle_run._stop expects)."""
    table: dict[str, list[str]] = {}
    for args, width in ((("-Ln",), 4), (("-Ln", "--thresholds"), 4)):
        current: list[str] | None = None
        for line in sh("ipvsadm", *args, ns=ns).splitlines():
            fields = line.split()
            if fields and fields[0] in oracle_run.SERVICE_PROTOCOLS:
                current = table.setdefault(f"{fields[0]} {fields[1]}", [])
                current.append(" ".join(fields))
            elif fields[:1] == ["->"] and current is not None:
                current.append(" ".join(fields[:width]))
    return {key: sorted(lines) for key, lines in table.items()}


@pytest.mark.skipif(shutil.which(oracle_run.KEEPALIVED) is None,
                    reason="keepalived not installed")
async def test_sorry_inhibit_thresholds_and_sip_engine_as_keepalived(director, tmp_path,
                                                                     monkeypatch):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF)
    monkeypatch.setattr(oracle_run, "read_table", full_table)
    ka = oracle_run.keepalived_table(director, conf, tmp_path / "keepalived")
    assert ka.ready, ka.log[-2000:]
    assert not full_table(director), "keepalived left its services after SIGTERM"
    hv = await oracle_run.haipvs_table(director, conf)
    oracle_run.clear(director)
    assert not hv.error
    print("keepalived:", ka.table, "\nhaipvs:", hv.table)
    assert hv.table == ka.table
    (lines,) = hv.table.values()
    text = "\n".join(lines)
    assert "persistent 300" in text and "pe sip" in text
    # quorum 4 <= 3 + 2: the quorum is up, the sorry server sits at weight 0 (inhibit)
    assert "-> 203.0.113.9:5060 Masq 0" in lines
    assert "-> 198.51.100.10:5060 Masq 3" in lines
    assert "-> 198.51.100.10:5060 100 10" in lines  # Uthreshold Lthreshold
