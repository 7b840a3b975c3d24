"""Checker common options as keepalived 2.2.7 runs them (issue 16, engineer H): the per-kind
retry / delay_before_retry defaults, delay_loop / warmup inheritance, `warmup 0`, alpha and
misc_dynamic. Each test names the keepalived function it follows."""

from __future__ import annotations

import ipaddress
import random
from pathlib import Path

import pytest
import trio

from haipvs.config.model import (
    DnsCheck,
    HttpGet,
    HttpUrl,
    MiscCheck,
    RealServer,
    SmtpCheck,
    SslGet,
    TcpCheck,
    UdpCheck,
    VirtualServer,
)
from haipvs.health.config_map import check_spec
from haipvs.health.engine import TICK, HealthEngine, ServerKey
from haipvs.health.misc import interpret_exit
from haipvs.health.spec import CheckSpec, Timing
from haipvs.importer import import_keepalived
from tests.health.fakes import FakeProbes, tcp

ip = ipaddress.ip_address
URL = (HttpUrl(path="/"),)


def timing(checker, delay_loop: float = 6.0) -> Timing:
    rs = RealServer(ip("198.51.100.1"), 80, checkers=(checker,))
    vs = VirtualServer(address=ip("192.0.2.10"), port=80, delay_loop=delay_loop,
                       real_servers=(rs,))
    return check_spec(checker, vs, rs).timing


@pytest.mark.parametrize(("checker", "retry", "delay_before_retry"), [
    (TcpCheck(), 1, 1.0),             # check_api.c alloc_checker(): default_retry 1, 1 s
    (UdpCheck(), 1, 1.0),             # check_udp.c: alloc_checker()'s defaults
    (SmtpCheck(), 1, 1.0),            # check_smtp.c: alloc_checker()'s defaults
    (HttpGet(urls=URL), 1, 3.0),      # check_http.c http_get_handler(): 3 s before a retry
    (SslGet(urls=URL), 1, 3.0),
    (MiscCheck(path=("/bin/true",)), 0, 1.0),  # check_misc.c misc_check_handler(): retry 0
    (DnsCheck(), 3, 6.0),             # check_dns.c: DNS_DEFAULT_RETRY, 0 -> the delay_loop
])
def test_retry_and_delay_before_retry_defaults_differ_per_checker_as_keepalived(
        checker, retry, delay_before_retry):
    """check_data.c validate_check_config(): a checker without retry / delay_before_retry
    (and none from its real or virtual server) takes its kind's default; a
    default_delay_before_retry of 0 (DNS_CHECK) means the checker's delay_loop."""
    got = timing(checker, delay_loop=6.0)
    assert (got.retry, got.delay_before_retry) == (retry, delay_before_retry)


def test_delay_loop_is_inherited_from_the_virtual_server_unless_the_checker_sets_one():
    """check_data.c validate_check_config(): checker->delay_loop = rs->delay_loop, itself
    vs->delay_loop when unset."""
    assert timing(TcpCheck(), delay_loop=17.0).delay_loop == 17.0
    assert timing(TcpCheck(delay_loop=3.0), delay_loop=17.0).delay_loop == 3.0


def _first_check_offset(check: CheckSpec, seed: int = 1) -> float:
    async def run() -> float:
        probes = FakeProbes()
        engine = HealthEngine({ServerKey(("TCP", "192.0.2.10", 80), check.server): (check,)},
                              probe_runner=probes, rng=random.Random(seed))
        async with trio.open_nursery() as nursery:
            start = trio.current_time()
            await nursery.start(engine.run)
            with trio.fail_after(1000):
                while not probes.calls:
                    await trio.sleep(TICK)
            nursery.cancel_scope.cancel()
        return next(iter(probes.calls.values()))[0] - start

    return trio.run(run, clock=trio.testing.MockClock(autojump_threshold=0))


def test_warmup_0_runs_the_first_check_at_once():
    """check_api.c register_checkers_thread(): the first check waits warmup * random() /
    RAND_MAX; `warmup 0` is no wait at all (haipvs used to spread it over the delay_loop)."""
    check = CheckSpec(("198.51.100.1", 80), tcp(80), Timing(delay_loop=60.0, warmup=0.0))
    assert _first_check_offset(check) <= TICK


def test_warmup_is_a_random_wait_up_to_warmup():
    check = CheckSpec(("198.51.100.1", 80), tcp(80), Timing(delay_loop=60.0, warmup=10.0))
    offsets = {round(_first_check_offset(check, seed), 3) for seed in range(5)}
    assert all(0.0 <= offset <= 10.0 + TICK for offset in offsets)
    assert len(offsets) > 1  # random, not a fixed delay


def test_without_warmup_first_checks_are_spread_within_the_delay_loop():
    """keepalived: no warmup anywhere means warmup = the checker's delay_loop (random up to
    it); haipvs spreads them over the same window, stably per check."""
    check = CheckSpec(("198.51.100.1", 80), tcp(80), Timing(delay_loop=8.0))
    assert 0.0 <= _first_check_offset(check) <= 8.0 + TICK


@pytest.mark.parametrize(("code", "dynamic", "up", "weight"), [
    (0, False, True, None),    # exit 0: up with the configured weight
    (1, False, False, None),
    (2, False, False, None),   # without misc_dynamic only 0 is success
    (0, True, True, None),     # "legacy case of status being 0 but misc_dynamic being set"
    (1, True, False, None),    # 1 is always down
    (2, True, True, 0),        # weight = status - 2: 0..253
    (12, True, True, 10),
    (255, True, True, 253),
    (-9, True, False, None),   # killed by a signal: a failure
])
def test_misc_dynamic_exit_code_minus_2_is_the_weight(code, dynamic, up, weight):
    """check_misc.c misc_check_child_thread(): status 0, or 2..255 with misc_dynamic, is
    success, and the weight is status - 2 (0 restores the configured weight)."""
    result = interpret_exit(code, dynamic)
    assert (result.ok, result.weight) == (up, weight)


def test_importer_writes_the_inherited_options_into_each_checker(tmp_path: Path):
    """check_data.c validate_check_config(): retry, warmup, alpha, connect_timeout,
    delay_before_retry go checker <- real_server <- virtual_server <- the kind's default."""
    conf = tmp_path / "keepalived.conf"
    conf.write_text("""virtual_server 192.0.2.10 80 {
  protocol TCP
  delay_loop 10
  retry 4
  warmup 0
  alpha
  connect_timeout 7
  real_server 198.51.100.1 80 {
    retry 2
    TCP_CHECK {
    }
    HTTP_GET {
      url {
        path /
      }
      retry 5
    }
    MISC_CHECK {
      misc_path /bin/true
    }
  }
  real_server 198.51.100.2 80 {
    TCP_CHECK {
    }
  }
}
""")
    servers = import_keepalived(conf).document["virtual_servers"][0]["real_servers"]
    first, second = servers
    assert first["tcp_check"] == {"connect_timeout": 7, "retry": 2, "warmup": 0, "alpha": True}
    assert first["http_get"]["retry"] == 5
    assert first["misc_check"]["retry"] == 2  # the real server's, not MISC's default 0
    assert "connect_timeout" not in first["misc_check"]  # MISC_CHECK has no connection
    assert second["tcp_check"]["retry"] == 4  # from the virtual server
