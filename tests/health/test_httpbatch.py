"""The batched HTTP_GET path (haipvs/health/httpbatch.py) keeps probe_http's semantics.

The plain-HTTP probe tests of test_probes.py, test_http_regex_probe.py and
test_bind_source.py are the oracle: they are collected here a second time with their
`probe_http` replaced by one attempt through the batch scheduler, so every HTTP_GET
behaviour they pin (keepalived check_http.c: status_code ranges, digest over the body in
every framing, regex, every url must pass, virtualhost Host header, http_protocol,
connect_timeout, refused, bind_if) holds for the batch too. Below them: the pure response
reader against h11 on raw bytes, and the engine sending HTTP_GET through the batch.
"""

from __future__ import annotations

import hashlib

import h11
import pytest
import trio

from haipvs.health import CheckSpec, Endpoint, HealthEngine, HttpProbe, Timing, UrlSpec
from haipvs.health.engine import ServerKey
from haipvs.health.http import MAX_BODY, probe_http
from haipvs.health.httpbatch import HttpBatchScheduler, HttpJob, batchable
from haipvs.policy.http_response import MAX_HEAD, ResponseReader
from tests.health import test_bind_source as bind_oracle
from tests.health import test_http_regex_probe as regex_oracle
from tests.health import test_probes as probes_oracle
from tests.health.batch_support import run_batch
from tests.health.servers import HttpRoute, HttpServer
from tests.health.test_bind_source import test_http_get_through_bind_if  # noqa: F401
from tests.health.test_http_regex_probe import (  # noqa: F401
    test_regex_no_match_is_up_until_the_body_says_error,
)
from tests.health.test_probes import (  # noqa: F401
    http_server,
    test_http_200_is_up_and_500_is_down,
    test_http_digest_match_and_mismatch,
    test_http_every_url_must_pass,
    test_http_protocol_version_is_sent,
    test_http_refused_and_silent_servers,
    test_http_regex,
    test_http_status_code_ranges,
    test_http_virtualhost_is_the_host_header,
)


async def probe_http_batched(probe: HttpProbe):
    """One attempt of `probe` through a batch scheduler of its own."""
    assert batchable(probe)
    run = await run_batch(HttpBatchScheduler, [HttpJob(probe, None)], 1)
    assert run.scheduler.inflight == 0
    return run.results[0]


@pytest.fixture(autouse=True)
def _through_the_batch(monkeypatch):
    for module in (probes_oracle, regex_oracle, bind_oracle):
        monkeypatch.setattr(module, "probe_http", probe_http_batched)


# -- the pure reader: the same verdict as h11 (http.py _exchange) on the same bytes ---------

def h11_verdict(chunks: list[bytes], max_body: int = MAX_BODY) -> tuple[str | None, int, bytes]:
    """http.py's `_exchange` over given chunks then EOF: (failure, status, body)."""
    parser = h11.Connection(h11.CLIENT)
    parser.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    parser.send(h11.EndOfMessage())
    pending = [*chunks, b""]
    status, body = 0, bytearray()
    while True:
        try:
            event = parser.next_event()
        except h11.RemoteProtocolError as exc:
            return f"bad HTTP response: {exc}", status, b""
        if event is h11.NEED_DATA:
            data = pending.pop(0)
            if not data and status == 0:
                return "connection closed before response", 0, b""
            parser.receive_data(data)
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > max_body:
                return f"body larger than {max_body} bytes", status, b""
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            return None, status, bytes(body)


def reader_verdict(chunks: list[bytes], max_body: int = MAX_BODY):
    reader = ResponseReader(max_body)
    done = False
    for chunk in chunks:
        if reader.feed(chunk):
            done = True
            break
    if not done:
        assert reader.feed_eof()
    return reader.failure, reader.status if reader.failure is None else None, (
        reader.body if reader.failure is None else b"")


RESPONSES = {
    "content-length": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    "length then junk": b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
    "until close": b"HTTP/1.0 503 Service Unavailable\r\nServer: x\r\n\r\nbusy\nnow",
    "1.1 until close": b"HTTP/1.1 200 OK\r\n\r\nbody",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "no content": b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
    "not modified": b"HTTP/1.1 304 Not Modified\r\n\r\n",
    "continue first": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
    "cut short": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
    "bare LF": b"HTTP/1.0 200 OK\nContent-Length: 2\n\nok",
    "bad status line": b"HTTP/1.1 2000 OK\r\n\r\n",
    "not http": b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
    "partial head": b"HTTP/1.1 200 OK\r\nContent-Le",
    "nothing": b"",
    "two lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
    "bad length": b"HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\nok",
    "obs-text header": b"HTTP/1.1 200 OK\r\nX-Name: caf\xc3\xa9\r\nContent-Length: 1\r\n\r\nx",
    "space before colon": b"HTTP/1.1 200 OK\r\nServer : x\r\nContent-Length: 1\r\n\r\nx",
    "huge head": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (MAX_HEAD + 10) + b"\r\n\r\n",
    "empty reason": b"HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n",
    "no reason": b"HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n",
}


def splits(data: bytes) -> list[list[bytes]]:
    """The bytes in one piece, byte by byte, and cut at every 7th byte."""
    if not data:
        return [[]]
    return [[data], [data[i:i + 1] for i in range(len(data))],
            [data[i:i + 7] for i in range(0, len(data), 7)]]


@pytest.mark.parametrize("name", RESPONSES)
def test_response_reader_judges_as_h11(name):
    for chunks in splits(RESPONSES[name]):
        failure, status, body = h11_verdict(chunks)
        assert reader_verdict(chunks) == (failure, status if failure is None else None,
                                          body), (name, len(chunks))


def test_response_reader_bounds_the_body():
    data = b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 100
    for chunks in splits(data):
        assert reader_verdict(chunks, max_body=50)[0] == "body larger than 50 bytes"
        assert h11_verdict(chunks, max_body=50)[0] == "body larger than 50 bytes"


# -- the batch on the wire --------------------------------------------------------------

async def test_batch_and_probe_http_give_the_same_reasons(nursery):
    body = b"hello\n"
    server = HttpServer({"/ok": HttpRoute(200, body), "/chunked": HttpRoute(200, body, "chunked"),
                         "/gone": HttpRoute(410)})
    await nursery.start(server.serve)
    endpoint = Endpoint("127.0.0.1", server.port)
    probes = [
        HttpProbe(endpoint, (UrlSpec("/ok", digest=hashlib.md5(body).hexdigest()),), 2.0),
        HttpProbe(endpoint, (UrlSpec("/chunked", regex="hel+o"), UrlSpec("/gone")), 2.0),
        HttpProbe(endpoint, (UrlSpec("/gone", status_codes=((400, 499),)),), 2.0),
        HttpProbe(endpoint, (UrlSpec("/missing"),), 2.0),
    ]
    for probe in probes:
        direct, batched = await probe_http(probe), await probe_http_batched(probe)
        assert (direct.ok, direct.reason) == (batched.ok, batched.reason)
    assert [(await probe_http_batched(p)).reason for p in probes] == [
        "HTTP 200", "/gone: HTTP 410", "HTTP 410", "HTTP 404"]


async def test_ssl_get_is_not_batched():
    from haipvs.health.spec import TlsSpec

    assert not batchable(HttpProbe(Endpoint("127.0.0.1", 443), (UrlSpec("/"),), tls=TlsSpec()))
    assert batchable(HttpProbe(Endpoint("127.0.0.1", 80), (UrlSpec("/"),)))


async def test_engine_runs_http_get_through_the_batch_and_follows_the_server(nursery):
    server = HttpServer({"/health": HttpRoute(200)})
    await nursery.start(server.serve)
    probe = HttpProbe(Endpoint("127.0.0.1", server.port), (UrlSpec("/health"),), 1.0)
    key = ServerKey("svc", ("127.0.0.1", server.port))
    timing = Timing(delay_loop=0.05, retry=0, delay_before_retry=0.05)
    changes = []
    engine = HealthEngine({key: (CheckSpec(key.dest, probe, timing),)},
                          lambda k, health: changes.append(health.up), max_spread=0.0)
    await nursery.start(engine.run)
    (checker,) = engine._checkers.values()
    assert isinstance(checker.job, HttpJob)
    with trio.fail_after(10):
        while checker.state.runs < 3:
            await trio.sleep(0.02)
        assert engine.health(*key).up
        server.routes["/health"] = HttpRoute(500)
        while engine.health(*key).up:
            await trio.sleep(0.02)
    assert changes[-1] is False
    assert engine.server_health(key).reason.endswith("HTTP 500")


# -- slow and scarce: timeouts mid-response, pieces, descriptors, pause and reload ------------

async def dribbling_server(nursery, pieces: list[bytes], gap: float) -> int:
    """Answers every request with `pieces`, `gap` seconds apart, then closes."""

    async def handle(stream):
        try:
            await stream.receive_some(4096)
            for piece in pieces:
                await stream.send_all(piece)
                await trio.sleep(gap)
        except trio.BrokenResourceError:
            pass
        finally:
            await trio.aclose_forcefully(stream)

    listeners = await nursery.start(
        lambda task_status: trio.serve_tcp(handle, 0, host="127.0.0.1", task_status=task_status))
    return listeners[0].socket.getsockname()[1]


async def test_a_response_in_pieces_is_read_to_its_end(nursery):
    body = b"piece by piece\n"
    head = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
    data = head + body
    port = await dribbling_server(nursery, [data[i:i + 5] for i in range(0, len(data), 5)], 0.01)
    probe = HttpProbe(Endpoint("127.0.0.1", port),
                      (UrlSpec("/", digest=hashlib.md5(body).hexdigest()),), 2.0)
    result = await probe_http_batched(probe)
    assert result.ok and result.reason == "HTTP 200"


async def test_a_response_that_stalls_times_out_like_probe_http(nursery):
    # check_http.c: connect_timeout bounds the whole exchange of each url
    port = await dribbling_server(nursery, [b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nok",
                                            b"rest"], 1.0)
    probe = HttpProbe(Endpoint("127.0.0.1", port), (UrlSpec("/"),), 0.3)
    direct, batched = await probe_http(probe), await probe_http_batched(probe)
    assert (batched.ok, batched.reason) == (direct.ok, direct.reason) == (False,
                                                                          "timeout after 0.3s")
    assert 0.25 < batched.latency < 1.0


async def test_no_socket_is_no_verdict_and_the_check_runs_later(nursery, monkeypatch):
    # keepalived reschedules a check that cannot create its socket (check_http.c via
    # layer4.c tcp_connect); as in tcpbatch, the server is not marked down for it
    import errno

    from haipvs.health import httpbatch

    server = HttpServer({"/": HttpRoute(200)})
    await nursery.start(server.serve)
    real_socket, refused = httpbatch._new_socket, [2]

    def scarce_socket(*args, **kwargs):
        if refused[0]:
            refused[0] -= 1
            raise OSError(errno.EMFILE, "Too many open files")
        return real_socket(*args, **kwargs)

    monkeypatch.setattr(httpbatch, "_new_socket", scarce_socket)
    result = await probe_http_batched(HttpProbe(Endpoint("127.0.0.1", server.port),
                                                (UrlSpec("/"),), 2.0))
    assert result.ok and refused == [0]


async def test_exchanges_in_flight_stay_within_the_cap(nursery):
    server = HttpServer({"/": HttpRoute(200)})
    await nursery.start(server.serve)
    probe = HttpProbe(Endpoint("127.0.0.1", server.port), (UrlSpec("/"), UrlSpec("/")), 2.0)
    run = await run_batch(lambda finish: HttpBatchScheduler(finish, max_inflight=2),
                          [HttpJob(probe, n) for n in range(6)], 6)
    assert all(r.ok for r in run.results) and max(run.in_flight) <= 2
    assert len(server.requests) == 12  # two urls each


async def test_pause_resume_and_reload_with_batched_http_checks(nursery):
    first, second = HttpServer({"/": HttpRoute(200)}), HttpServer({"/": HttpRoute(200)})
    await nursery.start(first.serve)
    await nursery.start(second.serve)
    key = ServerKey("svc", ("198.51.100.1", 80))
    timing = Timing(delay_loop=0.02)

    def spec(port):
        return CheckSpec(key.dest, HttpProbe(Endpoint("127.0.0.1", port), (UrlSpec("/"),), 1.0),
                         timing)

    engine = HealthEngine({key: (spec(first.port),)}, max_spread=0.0)
    await nursery.start(engine.run)
    with trio.fail_after(10):
        while len(first.requests) < 3:
            await trio.sleep(0.01)
        engine.pause([key])
        await trio.sleep(0.1)  # an exchange may have been in flight when pausing
        paused = len(first.requests)
        await trio.sleep(0.3)
        assert len(first.requests) == paused
        engine.resume([key])
        while len(first.requests) < paused + 3:
            await trio.sleep(0.01)
        engine.update({key: (spec(second.port),)})  # reload: the old check stops
        await trio.sleep(0.1)
        before = len(first.requests)
        while len(second.requests) < 3:
            await trio.sleep(0.01)
    assert len(first.requests) == before and engine.checker_count == 1
