"""Small real servers on 127.0.0.1 ephemeral ports for the probe tests."""

from __future__ import annotations

import functools
import socket
import ssl
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import trio


@dataclass
class HttpRoute:
    status: int = 200
    body: bytes = b"ok\n"
    framing: str = "length"  # "length" | "chunked" | "close" (body until EOF, HTTP/1.0 style)


@dataclass
class HttpServer:
    """GET → routes[path] (404 otherwise). Records each request's raw head."""

    routes: dict[str, HttpRoute] = field(default_factory=dict)
    requests: list[bytes] = field(default_factory=list)
    port: int = 0
    ssl_context: ssl.SSLContext | None = None

    async def handle(self, stream: trio.abc.Stream) -> None:
        if self.ssl_context is not None:
            stream = trio.SSLStream(stream, self.ssl_context, server_side=True)
        try:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = await stream.receive_some(4096)
                if not data:
                    return
                head += data
            self.requests.append(head)
            path = head.split(b" ", 2)[1].decode()
            route = self.routes.get(path, HttpRoute(404, b"not found"))
            await stream.send_all(_response(route))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return  # e.g. a client that refused our certificate
        finally:
            await trio.aclose_forcefully(stream)

    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                functools.partial(trio.serve_tcp, self.handle, 0, host="127.0.0.1"))
            self.port = listeners[0].socket.getsockname()[1]
            task_status.started(self)

    def header(self, index: int, name: bytes) -> bytes | None:
        for line in self.requests[index].split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


def _response(route: HttpRoute) -> bytes:
    status = f"HTTP/1.1 {route.status} X\r\n".encode()
    if route.framing == "chunked":
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                          for part in (route.body[:3], route.body[3:]) if part)
        return status + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    if route.framing == "close":
        return f"HTTP/1.0 {route.status} X\r\n\r\n".encode() + route.body
    length = b"Content-Length: %d\r\n" % len(route.body)
    return status + length + b"Connection: close\r\n\r\n" + route.body


@dataclass
class Certificates:
    ca: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certificates(directory: Path) -> Certificates:
    """A throw-away CA and a server certificate for localhost / 127.0.0.1 (openssl CLI)."""
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "ext.cnf"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                   "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage=serverAuth\n")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", "/CN=haipvs test CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return Certificates(ca, cert, key)


class CountingListener:
    """A TCP listener that accepts and counts connections."""

    def __init__(self) -> None:
        self.sock = trio.socket.socket()
        self.accepted = 0

    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        with self.sock:
            await self.sock.bind(("127.0.0.1", 0))
            self.sock.listen(128)
            task_status.started(self.sock.getsockname()[1])
            while True:
                conn, _ = await self.sock.accept()
                self.accepted += 1
                conn.close()


def full_backlog_listener() -> tuple[socket.socket, list[socket.socket]]:
    """A listener nobody accepts on, with its accept queue filled: new SYNs are dropped,
    so a connect to it times out. Returns the listener and the clients filling it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    clients = []
    for _ in range(16):
        client = socket.socket()
        client.settimeout(0.3)
        clients.append(client)
        try:
            client.connect(listener.getsockname())
        except TimeoutError:
            return listener, clients
    raise AssertionError("could not fill the accept queue")


# -- DNS --------------------------------------------------------------------------------

def _question_end(message: bytes) -> int:
    offset = 12
    while message[offset]:
        offset += 1 + message[offset]
    return offset + 1 + 4


def _qname(message: bytes) -> str:
    labels, offset = [], 12
    while message[offset]:
        length = message[offset]
        labels.append(message[offset + 1:offset + 1 + length].decode())
        offset += 1 + length
    return ".".join(labels) + "."


class DnsResponder:
    """Answers A queries for names in `a_records`; NXDOMAIN for `nxdomain`; NOERROR with no
    answer otherwise."""

    def __init__(self, a_records: dict[str, str], nxdomain: set[str]) -> None:
        self.a_records = a_records
        self.nxdomain = nxdomain
        self.port = 0
        self.queries = 0

    def answer(self, query: bytes) -> bytes:
        query_id, _flags = struct.unpack_from("!HH", query)
        question = query[12:_question_end(query)]
        name = _qname(query)
        qtype = struct.unpack_from("!H", question, len(question) - 4)[0]
        flags = 0x8180
        answers = b""
        count = 0
        if name in self.nxdomain:
            flags |= 3
        elif name in self.a_records and qtype == 1:
            rdata = socket.inet_aton(self.a_records[name])
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + rdata
            count = 1
        header = struct.pack("!HHHHHH", query_id, flags, 1, count, 0, 0)
        return header + question + answers

    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        with trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            await sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
            task_status.started(self)
            while True:
                query, peer = await sock.recvfrom(4096)
                self.queries += 1
                await sock.sendto(self.answer(query), peer)


async def udp_server(reply: bool, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """A UDP server that echoes (reply=True) or stays silent."""
    with trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        await sock.bind(("127.0.0.1", 0))
        task_status.started(sock.getsockname()[1])
        while True:
            data, peer = await sock.recvfrom(4096)
            if reply:
                await sock.sendto(data, peer)
