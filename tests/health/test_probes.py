"""Each probe against real servers on 127.0.0.1 ephemeral ports."""

from __future__ import annotations

import functools
import hashlib
import os
import pwd
import socket
import sys

import pytest
import trio

from haipvs.health import genhash, genhash_async
from haipvs.health.dns import probe_dns
from haipvs.health.http import probe_http
from haipvs.health.misc import probe_misc
from haipvs.health.spec import (
    DnsProbe,
    Endpoint,
    HttpProbe,
    MiscProbe,
    TcpProbe,
    TlsSpec,
    UdpProbe,
    UrlSpec,
)
from haipvs.health.tcp import probe_tcp
from haipvs.health.udp import probe_udp
from tests.health.servers import (
    DnsResponder,
    HttpRoute,
    HttpServer,
    full_backlog_listener,
    make_certificates,
    udp_server,
)


def unused_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def local(port: int) -> Endpoint:
    return Endpoint("127.0.0.1", port)


@pytest.fixture
async def http_server(nursery):
    server = HttpServer()
    await nursery.start(server.serve)
    return server


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def tls_server(nursery, certificates):
    server = HttpServer(ssl_context=certificates.server_context())
    server.routes["/"] = HttpRoute(200, b"secure\n")
    await nursery.start(server.serve)
    return server


# -- TCP --------------------------------------------------------------------------------

async def test_tcp_up_when_listening():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        result = await probe_tcp(TcpProbe(local(listener.getsockname()[1]), 2.0))
    assert result.ok
    assert result.reason == "connected"


async def test_tcp_closed_port_is_connect_refused():
    result = await probe_tcp(TcpProbe(local(unused_port()), 2.0))
    assert not result.ok
    assert result.reason == "connect refused"


async def test_tcp_unanswered_syn_times_out():
    listener, clients = full_backlog_listener()
    try:
        result = await probe_tcp(TcpProbe(local(listener.getsockname()[1]), 0.3))
    finally:
        for client in clients:
            client.close()
        listener.close()
    assert not result.ok
    assert result.reason == "timeout after 0.3s"


async def test_tcp_bindto_is_the_source_address():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        result = await probe_tcp(TcpProbe(Endpoint("127.0.0.1", port, bindto="127.0.0.2"), 2.0))
        assert result.ok
        conn, peer = listener.accept()
        conn.close()
    assert peer[0] == "127.0.0.2"


# -- HTTP -------------------------------------------------------------------------------

async def test_http_200_is_up_and_500_is_down(http_server):
    http_server.routes["/ok"] = HttpRoute(200)
    http_server.routes["/broken"] = HttpRoute(500)
    ok = await probe_http(HttpProbe(local(http_server.port), (UrlSpec("/ok"),), 2.0))
    assert ok.ok and ok.reason == "HTTP 200"
    broken = await probe_http(HttpProbe(local(http_server.port), (UrlSpec("/broken"),), 2.0))
    assert not broken.ok and broken.reason == "HTTP 500"


async def test_http_status_code_ranges(http_server):
    http_server.routes["/moved"] = HttpRoute(301)
    url = UrlSpec("/moved", status_codes=((200, 200), (300, 302)))
    assert (await probe_http(HttpProbe(local(http_server.port), (url,), 2.0))).ok


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
async def test_http_digest_match_and_mismatch(http_server, framing):
    body = b"hello health checker\n"
    http_server.routes["/page"] = HttpRoute(200, body, framing)
    good = UrlSpec("/page", digest=hashlib.md5(body).hexdigest())
    bad = UrlSpec("/page", digest="0" * 32)
    assert (await probe_http(HttpProbe(local(http_server.port), (good,), 2.0))).ok
    result = await probe_http(HttpProbe(local(http_server.port), (bad,), 2.0))
    assert not result.ok and result.reason == "digest mismatch"


async def test_http_regex(http_server):
    http_server.routes["/status"] = HttpRoute(200, b"<p>status: GREEN</p>")
    match = UrlSpec("/status", regex=r"status: (GREEN|AMBER)")
    miss = UrlSpec("/status", regex=r"status: RED")
    assert (await probe_http(HttpProbe(local(http_server.port), (match,), 2.0))).ok
    result = await probe_http(HttpProbe(local(http_server.port), (miss,), 2.0))
    assert not result.ok and result.reason == "regex mismatch"


async def test_http_every_url_must_pass(http_server):
    http_server.routes["/a"] = HttpRoute(200)
    http_server.routes["/b"] = HttpRoute(503)
    result = await probe_http(
        HttpProbe(local(http_server.port), (UrlSpec("/a"), UrlSpec("/b")), 2.0))
    assert not result.ok and result.reason == "/b: HTTP 503"
    assert len(http_server.requests) == 2


async def test_http_virtualhost_is_the_host_header(http_server):
    http_server.routes["/"] = HttpRoute(200)
    await probe_http(HttpProbe(local(http_server.port), (UrlSpec("/"),), 2.0,
                               virtualhost="www.example.test"))
    await probe_http(HttpProbe(local(http_server.port), (UrlSpec("/"),), 2.0))
    assert http_server.header(0, b"Host") == b"www.example.test"
    assert http_server.header(1, b"Host") == f"127.0.0.1:{http_server.port}".encode()


@pytest.mark.parametrize("version", ["1.0", "1.1"])
async def test_http_protocol_version_is_sent(http_server, version):
    http_server.routes["/"] = HttpRoute(200)
    result = await probe_http(HttpProbe(local(http_server.port), (UrlSpec("/"),), 2.0,
                                        http_protocol=version))
    assert result.ok
    assert http_server.requests[0].split(b"\r\n")[0] == f"GET / HTTP/{version}".encode()


async def test_http_refused_and_silent_servers():
    result = await probe_http(HttpProbe(local(unused_port()), (UrlSpec("/"),), 2.0))
    assert not result.ok and result.reason == "connect refused"
    with socket.socket() as silent:  # accepts (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        result = await probe_http(
            HttpProbe(local(silent.getsockname()[1]), (UrlSpec("/"),), 0.3))
    assert not result.ok and result.reason == "timeout after 0.3s"


# -- TLS --------------------------------------------------------------------------------

def tls_probe(port: int, tls: TlsSpec) -> HttpProbe:
    return HttpProbe(local(port), (UrlSpec("/"),), 5.0, tls=tls)


async def test_tls_without_verification_is_up(tls_server):
    result = await probe_http(tls_probe(tls_server.port, TlsSpec(verify=False)))
    assert result.ok, result.reason


async def test_tls_verification_against_an_unknown_ca_is_down(tls_server):
    result = await probe_http(tls_probe(tls_server.port, TlsSpec("localhost", verify=True)))
    assert not result.ok
    assert result.reason.startswith("TLS: certificate verify failed")


async def test_tls_verification_with_the_ca_file_is_up(tls_server, certificates):
    tls = TlsSpec("localhost", verify=True, ca_file=str(certificates.ca))
    result = await probe_http(tls_probe(tls_server.port, tls))
    assert result.ok, result.reason


async def test_tls_name_mismatch_is_down(tls_server, certificates):
    tls = TlsSpec("other.example.test", verify=True, ca_file=str(certificates.ca))
    result = await probe_http(tls_probe(tls_server.port, tls))
    assert not result.ok
    assert result.reason.startswith("TLS: certificate verify failed")


async def test_tls_to_a_plaintext_server_is_down(nursery):
    async def plaintext(stream):
        await stream.send_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await stream.aclose()

    listeners = await nursery.start(functools.partial(trio.serve_tcp, plaintext, 0,
                                                      host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    result = await probe_http(tls_probe(port, TlsSpec()))
    assert not result.ok
    assert result.reason.startswith("TLS:")


# -- genhash ----------------------------------------------------------------------------

async def test_genhash_is_the_md5_of_the_body(http_server):
    body = b"digest me\n"
    http_server.routes["/page?x=1"] = HttpRoute(200, body)
    url = f"http://127.0.0.1:{http_server.port}/page?x=1"
    assert await genhash_async(url) == hashlib.md5(body).hexdigest()
    # The synchronous form runs its own trio loop (as the CLI does).
    assert await trio.to_thread.run_sync(genhash, url) == hashlib.md5(body).hexdigest()


async def test_genhash_over_tls(tls_server, certificates):
    url = f"https://localhost:{tls_server.port}/"
    digest = await genhash_async(url, verify=True, ca_file=str(certificates.ca))
    assert digest == hashlib.md5(b"secure\n").hexdigest()


# -- MISC -------------------------------------------------------------------------------

def sh(script: str, **options) -> MiscProbe:
    options.setdefault("timeout", 5.0)
    return MiscProbe(("/bin/sh", "-c", script), **options)


@pytest.mark.parametrize(("code", "up"), [(0, True), (1, False), (2, False), (255, False)])
async def test_misc_exit_codes(code, up):
    result = await probe_misc(sh(f"exit {code}"))
    assert result.ok is up
    assert result.reason == f"exit {code}"
    assert result.weight is None


@pytest.mark.parametrize(("code", "weight"), [(2, 0), (3, 1), (12, 10), (255, 253)])
async def test_misc_dynamic_weight(code, weight):
    result = await probe_misc(sh(f"exit {code}", dynamic=True))
    assert result.ok
    assert result.weight == weight


async def test_misc_dynamic_exit_1_is_down_and_0_keeps_the_configured_weight():
    assert not (await probe_misc(sh("exit 1", dynamic=True))).ok
    zero = await probe_misc(sh("exit 0", dynamic=True))
    assert zero.ok and zero.weight is None


async def test_misc_timeout_kills_the_whole_process_group(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    script = f"sleep 60 & echo $! > {pid_file}; wait"
    result = await probe_misc(sh(script, timeout=0.5))
    assert not result.ok
    assert result.reason == "timeout after 0.5s (killed)"
    grandchild = int(pid_file.read_text())
    with trio.fail_after(5):
        while _alive(grandchild):
            await trio.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_misc_gets_a_clean_environment(monkeypatch):
    monkeypatch.setenv("HAIPVS_TEST_SECRET", "leak")
    env = (("HAIPVS_RS_ADDRESS", "198.51.100.1"), ("HAIPVS_RS_PORT", "80"))
    script = ('[ "$HAIPVS_RS_ADDRESS" = 198.51.100.1 ] && [ "$HAIPVS_RS_PORT" = 80 ] && '
              '[ -z "$HAIPVS_TEST_SECRET" ] && [ "$PATH" = /usr/sbin:/usr/bin:/sbin:/bin ]')
    result = await probe_misc(sh(script, env=env))
    assert result.ok, result.reason


async def test_misc_runs_without_a_shell():
    # A shell would expand the glob and the `;`; argv goes to the program verbatim.
    result = await probe_misc(MiscProbe(("/bin/test", "*;", "=", "*;"), 5.0))
    assert result.ok


async def test_misc_missing_program():
    result = await probe_misc(MiscProbe(("/nonexistent/check",), 5.0))
    assert not result.ok
    assert result.reason.startswith("exec failed")


@pytest.mark.skipif(os.geteuid() != 0, reason="switching user needs root")
async def test_misc_runs_as_user():
    nobody = pwd.getpwnam("nobody")
    result = await probe_misc(sh(f'[ "$(id -u)" = {nobody.pw_uid} ]', user="nobody"))
    assert result.ok, result.reason
    unknown = await probe_misc(sh("exit 0", user="no-such-user-haipvs"))
    assert not unknown.ok and unknown.reason == "unknown user no-such-user-haipvs"


# -- UDP --------------------------------------------------------------------------------

async def test_udp_reply_is_up(nursery):
    port = await nursery.start(udp_server, True)
    result = await probe_udp(UdpProbe(local(port), b"ping", require_reply=True,
                                      connect_timeout=2.0))
    assert result.ok and result.reason == "reply"


async def test_udp_silent_server_with_require_reply_is_down(nursery):
    port = await nursery.start(udp_server, False)
    result = await probe_udp(UdpProbe(local(port), b"ping", require_reply=True,
                                      connect_timeout=0.3))
    assert not result.ok and result.reason == "no reply"


async def test_udp_silent_server_without_require_reply_is_up(nursery):
    port = await nursery.start(udp_server, False)
    result = await probe_udp(UdpProbe(local(port), b"ping", connect_timeout=0.3))
    assert result.ok and result.reason == "no ICMP error"


async def test_udp_port_unreachable_is_down():
    result = await probe_udp(UdpProbe(local(unused_port(socket.SOCK_DGRAM)), b"ping",
                                      connect_timeout=2.0))
    assert not result.ok and result.reason == "port unreachable"


# -- DNS --------------------------------------------------------------------------------

@pytest.fixture
async def dns_server(nursery):
    responder = DnsResponder({"ok.example.test.": "192.0.2.53"}, {"gone.example.test."})
    await nursery.start(responder.serve)
    return responder


async def test_dns_answer_is_up(dns_server):
    result = await probe_dns(DnsProbe(local(dns_server.port), "A", "ok.example.test", 2.0))
    assert result.ok and result.reason == "DNS A answer"


async def test_dns_nxdomain_is_down(dns_server):
    result = await probe_dns(DnsProbe(local(dns_server.port), "A", "gone.example.test", 2.0))
    assert not result.ok and result.reason == "DNS NXDOMAIN"


async def test_dns_no_answer_of_the_type_is_down(dns_server):
    result = await probe_dns(DnsProbe(local(dns_server.port), "AAAA", "ok.example.test", 2.0))
    assert not result.ok and result.reason == "DNS no answer"


async def test_dns_silent_or_closed_server_is_down(nursery):
    port = await nursery.start(udp_server, False)
    silent = await probe_dns(DnsProbe(local(port), "A", "ok.example.test", 0.3))
    assert not silent.ok and silent.reason == "timeout after 0.3s"
    closed = await probe_dns(DnsProbe(local(unused_port(socket.SOCK_DGRAM)), "A", ".", 2.0))
    assert not closed.ok and closed.reason == "port unreachable"


def test_interpreter_is_the_venv():
    # The misc tests rely on /bin/sh and /bin/test existing; the venv has no say in that.
    assert sys.version_info >= (3, 11)
