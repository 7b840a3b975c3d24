"""HTTP_GET and SSL_GET: GET every url on a fresh connection; all must pass.

Requests are written by hand (h11 only sends HTTP/1.1 and keepalived's default is 1.0);
responses are read by haipvs/policy/http_response.py (Content-Length and read-until-close
itself, anything else through h11), as in the batched plain-HTTP path (httpbatch.py). TLS
is `trio.SSLStream` with optional SNI and certificate verification; its client
context (the global `ssl` section) is haipvs/health/tls_client.py.
"""

from __future__ import annotations

import hashlib
import ssl

import trio

from haipvs.health.net import ProbeFailure, connect_stream, timeout_reason
from haipvs.health.spec import Endpoint, HttpProbe, TlsSpec, UrlSpec
from haipvs.health.state import CheckResult
from haipvs.health.tls_client import ClientContextError, tls_context
from haipvs.policy.http_regex import regex_failure
from haipvs.policy.http_response import ResponseReader

MAX_BODY = 16 * 1024 * 1024  # bodies larger than this fail instead of filling memory
_RECEIVE_SIZE = 65536
USER_AGENT = "haipvs-healthcheck"


def host_header(endpoint: Endpoint, virtualhost: str | None, tls: bool) -> str:
    if virtualhost:
        return virtualhost
    host = f"[{endpoint.address}]" if ":" in endpoint.address else endpoint.address
    return host if endpoint.port == (443 if tls else 80) else f"{host}:{endpoint.port}"


def build_request(path: str, host: str, http_protocol: str) -> bytes:
    lines = [
        f"GET {path} HTTP/{http_protocol}",
        f"Host: {host}",
        f"User-Agent: {USER_AGENT}",
        "Connection: close",
        "",
        "",
    ]
    return "\r\n".join(lines).encode("latin-1")


def _tls_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = exc.verify_message or ""
        return "TLS: certificate verify failed" + (f" ({detail})" if detail else "")
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {(exc.reason or str(exc)).lower().replace('_', ' ')}"
    return f"TLS: {exc}"


async def http_fetch(
    endpoint: Endpoint,
    path: str,
    *,
    host: str,
    http_protocol: str = "1.0",
    tls: TlsSpec | None = None,
    max_body: int = MAX_BODY,
    server_name: str | None = None,
) -> tuple[int, bytes]:
    """GET `path`; returns (status, body). Raises ProbeFailure with a short reason.
    The caller bounds the time (cancel scope)."""
    stream: trio.abc.Stream = await connect_stream(endpoint)
    try:
        if tls is not None:
            try:
                context = tls_context(tls)
            except ClientContextError as exc:
                raise ProbeFailure(f"TLS client context: {exc}") from None
            # https_compatible: a server closing without close_notify still answered;
            # keepalived judges that response on its status (check_ssl.c ssl_read_thread:
            # an SSL_ERROR_SYSCALL end goes to http_handle_response like a clean one).
            stream = trio.SSLStream(stream, context,
                                    server_hostname=server_name or tls.server_name,
                                    https_compatible=True)
            try:
                await stream.do_handshake()
            except trio.BrokenResourceError as exc:
                raise ProbeFailure(_tls_reason(exc.__cause__ or exc)) from None
        try:
            return await _exchange(stream, path, host, http_protocol, max_body)
        except trio.BrokenResourceError as exc:
            cause = exc.__cause__
            if isinstance(cause, ssl.SSLError):
                raise ProbeFailure(_tls_reason(cause)) from None
            raise ProbeFailure("connection reset") from None
    finally:
        await trio.aclose_forcefully(stream)


async def _exchange(
    stream: trio.abc.Stream, path: str, host: str, http_protocol: str, max_body: int
) -> tuple[int, bytes]:
    await stream.send_all(build_request(path, host, http_protocol))
    # the same reader as the batched path (httpbatch.py): one home for the response rules
    reader = ResponseReader(max_body, path)
    while True:
        data = await stream.receive_some(_RECEIVE_SIZE)
        if reader.feed(data) if data else reader.feed_eof():
            break
        if not data:  # an EOF the reader did not judge cannot happen; be safe
            raise ProbeFailure("connection closed before response")
    if reader.failure is not None:
        raise ProbeFailure(reader.failure)
    return reader.status, reader.body


def body_digest(body: bytes) -> str:
    """MD5 hex of a response body, as keepalived's genhash prints it."""
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def url_failure(url: UrlSpec, status: int, body: bytes) -> str | None:
    """Why a response fails `url`, or None when it passes."""
    if not url.status_ok(status):
        return f"HTTP {status}"
    if url.digest is not None and body_digest(body) != url.digest:
        return "digest mismatch"
    if url.regex is not None:
        return regex_failure(body.decode("utf-8", errors="replace"), url.regex,
                             options=url.regex_options, no_match=url.regex_no_match,
                             min_offset=url.regex_min_offset,
                             max_offset=url.regex_max_offset)
    return None


async def probe_http(probe: HttpProbe) -> CheckResult:
    started = trio.current_time()
    status = 0
    for url in probe.urls:
        host = host_header(probe.endpoint, url.virtualhost or probe.virtualhost,
                           probe.tls is not None)
        reason: str | None = None
        with trio.move_on_after(probe.connect_timeout) as scope:
            try:
                status, body = await http_fetch(
                    probe.endpoint, url.path, host=host,
                    http_protocol=probe.http_protocol, tls=probe.tls,
                    server_name=url.server_name,
                )
                reason = url_failure(url, status, body)
            except ProbeFailure as exc:
                reason = str(exc)
        if scope.cancelled_caught:
            reason = timeout_reason(probe.connect_timeout)
        if reason is not None:
            where = f"{url.path}: " if len(probe.urls) > 1 else ""
            return CheckResult(False, where + reason, trio.current_time() - started)
    return CheckResult(True, f"HTTP {status}", trio.current_time() - started)
