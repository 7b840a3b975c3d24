"""SMTP_CHECK probe (haipvs/health/smtp.py) against real servers on 127.0.0.1: aiosmtpd as
the mail server, and raw sockets for the answers keepalived check_smtp.c rejects."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import trio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from haipvs.health.smtp import probe_smtp
from haipvs.health.spec import Endpoint, SmtpProbe


class _Recorder:
    def __init__(self) -> None:
        self.helo: list[str] = []

    async def handle_HELO(self, server, session, envelope, hostname):
        self.helo.append(hostname)
        session.host_name = hostname
        return f"250 {server.hostname}"


@pytest.fixture
def smtpd() -> Iterator[tuple[int, _Recorder]]:
    recorder = _Recorder()
    with socket.create_server(("127.0.0.1", 0)) as probe_port:
        port = probe_port.getsockname()[1]  # aiosmtpd's Controller needs a fixed port
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, recorder
    finally:
        controller.stop()


def _scripted_server(lines: list[bytes]) -> tuple[int, threading.Thread, socket.socket]:
    """Accepts one connection and sends `lines`, one after each line it reads (the first
    at once); then holds the connection until the client closes it."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            for index, line in enumerate(lines):
                if index:
                    conn.recv(512)
                conn.sendall(line)
            try:
                while conn.recv(512):
                    pass
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread, listener


def probe(port: int, **kw) -> object:
    spec = SmtpProbe(Endpoint("127.0.0.1", port), connect_timeout=kw.pop("timeout", 2.0), **kw)
    return trio.run(probe_smtp, spec)


def test_check_smtp_a_real_smtp_server_is_up_and_sees_our_helo_name(smtpd):
    port, recorder = smtpd
    result = probe(port, helo_name="checker.example")
    assert result.ok, result.reason
    assert recorder.helo == ["checker.example"]


def test_check_smtp_default_helo_is_keepalived_s(smtpd):
    port, recorder = smtpd
    assert probe(port).ok
    assert recorder.helo == ["smtpchecker.keepalived.org"]


@pytest.mark.parametrize(("lines", "reason"), [
    ([b"554 5.3.2 no service\r\n"], "bad greeting banner"),
    ([b"220-first\r\n220 second\r\n"], "bad greeting banner"),
    ([b"220 ok\r\n", b"550 go away\r\n"], "bad HELO response"),
])
def test_smtp_engine_thread_rejections_are_down(lines, reason):
    port, thread, listener = _scripted_server(lines)
    with listener:
        result = probe(port)
        thread.join(5)
    assert not result.ok and reason in result.reason


def test_smtp_get_line_cb_read_timeout_is_down():
    port, thread, listener = _scripted_server([b"220 ok\r\n", b"250 ok\r\n"])
    with listener:
        # QUIT is never answered: the read of its reply times out after connect_timeout.
        result = probe(port, timeout=0.3)
        thread.join(5)
    assert not result.ok and "read timeout" in result.reason and "QUIT" in result.reason
    assert 0.3 <= result.latency < 2


def test_smtp_connect_refused_is_down():
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    result = probe(port)
    assert not result.ok and "refused" in result.reason


def test_smtp_aiosmtpd_smtp_class_is_what_we_test_against():
    # Guard: the fixture runs aiosmtpd's own SMTP protocol, not a stub.
    assert Controller(_Recorder()).factory().__class__ is SMTP
