"""Metrics rendering from a snapshot, listen-address parsing, sd_notify datagrams."""

import socket
from types import SimpleNamespace

import pytest
from prometheus_client import generate_latest

from haipvs.metrics import Metrics, parse_listen
from haipvs.sdnotify import SystemdNotifier


def test_parse_listen():
    assert parse_listen("127.0.0.1:9650") == ("127.0.0.1", 9650)
    assert parse_listen("[::1]:9650") == ("::1", 9650)
    assert parse_listen("localhost:1") == ("localhost", 1)
    with pytest.raises(ValueError):
        parse_listen("127.0.0.1:70000")


VRRP = {
    "instances": {"VI_1": {
        "state": "MASTER", "effective_priority": 140, "base_priority": 150,
        "counters": {"transitions": 2, "adverts_sent": 7, "adverts_received": 3,
                     "drops": {"auth_mismatch": 4}},
    }},
    "interfaces": {"eth0/ipv4": {"drops": {"received": 9, "drops": {"unknown_vrid": 5}}}},
}


def op(kind):
    return SimpleNamespace(op=SimpleNamespace(kind=kind), error=None)


def test_series_values_from_snapshot():
    metrics = Metrics()
    first, second, failed = op("add_service"), op("add_dest"), op("set_dest")
    failed.error = "EINVAL"
    metrics.refresh(vrrp=VRRP, lateness=[0.0004, 0.003],
                    ipvs={"status": "ok", "reconciles": 2}, ops_log=[first, second])
    metrics.refresh(ops_log=[first, second, failed])  # only `failed` is new
    metrics.refresh(health=[{"service": "TCP 192.0.2.100:80", "real_server": "198.51.100.2:80",
                             "up": False, "checks": [{"check": "tcp", "runs": 5,
                                                      "failures": 2, "latency": 0.02}]}])
    text = generate_latest(metrics.registry).decode()
    expected = [
        'haipvs_vrrp_state{instance="VI_1",state="MASTER"} 1.0',
        'haipvs_vrrp_state{instance="VI_1",state="BACKUP"} 0.0',
        'haipvs_vrrp_priority{instance="VI_1"} 140.0',
        'haipvs_vrrp_base_priority{instance="VI_1"} 150.0',
        'haipvs_vrrp_transitions_total{instance="VI_1"} 2.0',
        'haipvs_vrrp_adverts_sent_total{instance="VI_1"} 7.0',
        'haipvs_vrrp_adverts_received_total{instance="VI_1"} 3.0',
        'haipvs_vrrp_drops_total{reason="auth_mismatch",scope="VI_1"} 4.0',
        'haipvs_vrrp_drops_total{reason="unknown_vrid",scope="eth0/ipv4"} 5.0',
        'haipvs_vrrp_timer_lateness_seconds_bucket{le="0.0005"} 1.0',
        "haipvs_vrrp_timer_lateness_seconds_count 2.0",
        'haipvs_ipvs_status{status="ok"} 1.0',
        "haipvs_ipvs_reconciles_total 2.0",
        'haipvs_ipvs_reconcile_ops_total{op="add_service"} 1.0',
        'haipvs_ipvs_reconcile_ops_total{op="add_dest"} 1.0',
        'haipvs_ipvs_reconcile_errors_total{op="set_dest"} 1.0',
        'haipvs_realserver_up{real_server="198.51.100.2:80",service="TCP 192.0.2.100:80"} 0.0',
        'haipvs_checks_failed_total{check="tcp",real_server="198.51.100.2:80",'
        'service="TCP 192.0.2.100:80"} 2.0',
        "haipvs_check_latency_seconds_count 1.0",
    ]
    lines = set(text.splitlines())
    missing = [line for line in expected if line not in lines]
    assert not missing, text


def test_sdnotify_sends_datagrams_and_parses_watchdog(tmp_path):
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(path)
        notifier = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000"})
        assert notifier.enabled and notifier.watchdog_interval == 5.0
        notifier.notify("READY=1", "STATUS=ok")
        assert listener.recv(100) == b"READY=1\nSTATUS=ok"
        notifier.close()


def test_sdnotify_without_systemd_does_nothing():
    notifier = SystemdNotifier({})
    assert not notifier.enabled and notifier.watchdog_interval is None
    notifier.notify("READY=1")  # no socket, no error
