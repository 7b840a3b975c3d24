"""PING_CHECK probe (haipvs/health/ping.py) against this host's own kernel on loopback
(127.0.0.1, ::1), and the ping_check config key mapped to its probe. Down by a dropped echo
is covered in the real server's namespace by integration/test_health_ping.py."""

from __future__ import annotations

import pytest
import trio

from haipvs.config import load_config_text
from haipvs.health import ping
from haipvs.health.config_map import specs_from_config
from haipvs.health.ping import open_icmp, probe_ping
from haipvs.policy.ping_echo import PingProbe


def _icmp_available(ipv6: bool) -> bool:
    try:
        sock, _raw = open_icmp(ipv6)
    except OSError:
        return False
    sock.close()
    return True


needs_icmp = pytest.mark.skipif(not _icmp_available(False),
                                reason="neither an unprivileged nor a raw ICMP socket here")


@needs_icmp
@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_icmp_check_thread_echo_reply_from_the_kernel_is_up(address: str) -> None:
    result = trio.run(probe_ping, PingProbe(address, connect_timeout=2.0))
    assert result.ok, result
    assert result.reason == "echo reply" and result.latency < 2.0


@needs_icmp
def test_every_attempt_takes_the_next_process_wide_sequence_number() -> None:
    before = ping.SEQUENCE.take()
    trio.run(probe_ping, PingProbe("127.0.0.1", connect_timeout=2.0))
    assert ping.SEQUENCE.take() == (before + 2) & 0xFFFF


@needs_icmp
def test_a_bindto_address_not_on_this_host_fails_the_attempt_at_once() -> None:
    result = trio.run(probe_ping, PingProbe("127.0.0.1", bindto="192.0.2.250",
                                            connect_timeout=2.0))
    assert not result.ok and result.latency < 1.0
    assert result.reason.startswith("send: "), result


CONFIG = """\
virtual_servers:
  - address: 192.0.2.100
    port: 80
    protocol: TCP
    delay_loop: 3
    real_servers:
      - address: 198.51.100.2
        port: 80
        ping_check: {connect_timeout: 1.5, retry: 2, delay_before_retry: 0.5}
      - address: 198.51.100.3
        port: 80
        ping_check: {connect_ip: 198.51.100.33, bindto: 192.0.2.1}
"""


def test_ping_check_maps_to_a_ping_probe_with_keepalived_timing() -> None:
    plan = specs_from_config(load_config_text(CONFIG, "ping.yaml"))
    (first,), (second,) = plan.values()
    assert first.probe == PingProbe("198.51.100.2", None, 1.5)
    assert (first.timing.retry, first.timing.delay_before_retry, first.timing.delay_loop) == (
        2, 0.5, 3.0)
    # check_api.c queue_checker(): default_retry 1, default_delay_before_retry 1 s;
    # connection_to 5 s
    assert second.probe == PingProbe("198.51.100.33", "192.0.2.1", 5.0)
    assert (second.timing.retry, second.timing.delay_before_retry) == (1, 1.0)
    assert first.describe() == "ping_check 198.51.100.2:80"
