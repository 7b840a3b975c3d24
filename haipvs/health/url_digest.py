"""`genhash`: the MD5 digest of a URL's body, the value an http_get/ssl_get `digest` expects
(keepalived's genhash tool)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import trio

from haipvs.health.http import body_digest, http_fetch
from haipvs.health.net import ProbeFailure, timeout_reason
from haipvs.health.spec import Endpoint, TlsSpec


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def fetch_url(
    url: str,
    *,
    virtualhost: str | None = None,
    verify: bool = False,
    ca_file: str | None = None,
    timeout: float = 5.0,
    http_protocol: str = "1.0",
    bindto: str | None = None,
) -> tuple[int, bytes]:
    """GET `url` (http:// or https://); returns (status, body). Raises ProbeFailure."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url}")
    tls = parts.scheme == "https"
    host = parts.hostname
    port = parts.port or (443 if tls else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    with trio.move_on_after(timeout) as scope:
        address = host
        if not _is_address(host):
            try:
                infos = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise ProbeFailure(f"cannot resolve {host}: {exc.strerror}") from None
            address = str(infos[0][4][0])
        server_name = virtualhost or (None if _is_address(host) else host)
        return await http_fetch(
            Endpoint(address, port, bindto),
            path,
            host=virtualhost or parts.netloc.rpartition("@")[2],
            http_protocol=http_protocol,
            tls=TlsSpec(server_name, verify, ca_file) if tls else None,
        )
    assert scope.cancelled_caught
    raise ProbeFailure(timeout_reason(timeout))


async def genhash_async(url: str, **options) -> str:
    _status, body = await fetch_url(url, **options)
    return body_digest(body)


def genhash(url: str, **options) -> str:
    """MD5 hex digest of `url`'s body. Options: virtualhost, verify, ca_file, timeout,
    http_protocol, bindto. Raises ProbeFailure (message = reason) when the fetch fails.
    Runs its own trio loop, so call it from synchronous code (the CLI)."""
    return trio.run(lambda: genhash_async(url, **options))
