"""Status output: exact `ipvsadm -Ln` layout (recorded from a real 6.1 kernel), health, JSON."""

import json
from pathlib import Path

from haipvs.ipvs.model import DestKey, IpvsInfo, IpvsTable, ServiceKey
from haipvs.ipvs.status import HealthNote, health_from_dump, render_status, status_json
from tests.ipvs.ipvs_samples import sample_table

DATA = Path(__file__).parent / "data"
INFO = IpvsInfo("1.2.1", 4096)


def test_text_matches_recorded_ipvsadm_output_byte_for_byte():
    # The recording is `ipvsadm -Ln` after programming sample_table() into a real kernel.
    recorded = (DATA / "ipvsadm_Ln.txt").read_text()
    assert render_status(sample_table(), None, INFO) == recorded


def test_empty_table_is_just_the_headers():
    assert render_status(IpvsTable(), None, INFO).splitlines() == [
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
    ]


def test_health_column_and_servers_missing_from_the_kernel():
    table = sample_table()
    web = str(ServiceKey.inet("tcp", "192.0.2.100", 80))
    health = health_from_dump([
        {"service": web, "dest": "198.51.100.10:8080", "up": True},
        {"service": web, "dest": "198.51.100.11:8080", "up": True, "reason": ""},
        {"service": web, "dest": "198.51.100.12:8080", "up": False,
         "reason": "tcp_check: connection refused"},
    ])
    lines = render_status(table, health, INFO).splitlines()
    assert lines[2].endswith("InActConn Health")
    web_block = lines[lines.index("TCP  192.0.2.100:80 wrr") + 1:][:3]
    assert web_block[0] == ("  -> 198.51.100.10:8080           Masq    1      0          0"
                            "          up")
    assert web_block[2].startswith("  -> 198.51.100.12:8080 ")
    assert web_block[2].endswith("down (tcp_check: connection refused) (not in kernel)")
    # Servers without health information show "-".
    assert lines[lines.index("UDP  192.0.2.100:53 rr persistent 50") + 1].endswith(" -")


def test_json_carries_the_same_facts():
    web = ServiceKey.inet("tcp", "192.0.2.100", 80)
    health = {(str(web), str(DestKey("198.51.100.10", 8080))): HealthNote(False, "timeout")}
    doc = status_json(sample_table(), health, INFO, foreign=[ServiceKey.mark(7)])
    json.dumps(doc)  # serialisable
    assert doc["version"] == "1.2.1" and doc["conn_table_size"] == 4096
    by_name = {s["name"]: s for s in doc["services"]}
    assert by_name["TCP 192.0.2.100:80"]["destinations"][0]["health"] == {
        "up": False, "reason": "timeout"}
    sip = by_name["UDP 192.0.2.101:5060"]
    assert sip["sched_flags"] == ["sh-fallback", "sh-port"]
    assert sip["persistence_timeout"] == 300 and sip["persistence_netmask"] == 24
    assert sip["ops"] is True
    fwm = by_name["FWM 7 IPv4"]
    assert fwm["foreign"] is True
    assert fwm["destinations"][1]["tun_type"] == "gue"
    assert fwm["destinations"][1]["tun_port"] == 6080
