"""Acceptance (health issue, item 1): the daemon's checkers against real servers in their own
network namespace. Each failure kind takes its real server down within keepalived's bound
and out of the desired IPVS table; repairing it brings the server back within one
delay_loop. Kinds: TCP refused, HTTP 500, digest mismatch, regex mismatch, TLS certificate
not trusted (verification on), misc_check exit 1, silent UDP server with require_reply.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from integration.harness.instance import VrrpInstance
from integration.harness.proc import Proc
from integration.harness.requirements import haipvs_unavailable_reason
from integration.harness.servers import tcp_accept_server
from integration.harness.wait import wait_until

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(haipvs_unavailable_reason() is not None,
                       reason=haipvs_unavailable_reason() or ""),
]

CONNECT_TIMEOUT, RETRY, DELAY_BEFORE_RETRY, DELAY_LOOP = 1.0, 1, 0.5, 1.0
TIMING = {"connect_timeout": CONNECT_TIMEOUT, "retry": RETRY,
          "delay_before_retry": DELAY_BEFORE_RETRY}
# keepalived's bound for a check that fails at once (refused, bad answer)...
FAST_FAIL_BOUND = CONNECT_TIMEOUT + RETRY * DELAY_BEFORE_RETRY + DELAY_LOOP + 0.05
# ...and for one that fails by timing out: every attempt waits connect_timeout.
TIMEOUT_BOUND = DELAY_LOOP + (RETRY + 1) * CONNECT_TIMEOUT + RETRY * DELAY_BEFORE_RETRY + 0.05
RECOVERY_BOUND = DELAY_LOOP + 0.25  # one delay_loop, plus the successful check itself

SERVERS = r"""
import http.server, socket, ssl, sys, threading
from pathlib import Path
control = Path(sys.argv[1])

def value(name, default):
    path = control / name
    return path.read_text() if path.exists() else default

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status = int(value("status", "200"))
        body = value("body", "good: rs1 healthy").encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

http_server = http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler)
tls_server = http.server.ThreadingHTTPServer(("0.0.0.0", 8443), Handler)
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(str(control / "server.pem"), str(control / "server.key"))
tls_server.socket = context.wrap_socket(tls_server.socket, server_side=True)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("0.0.0.0", 5353))

def echo():
    while True:
        data, peer = udp.recvfrom(2048)
        if not (control / "udp_silent").exists():
            udp.sendto(data, peer)

for target in (http_server.serve_forever, tls_server.serve_forever, echo):
    threading.Thread(target=target, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""



def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_pki(directory: Path) -> None:
    """A CA that signed the server's certificate, and an unrelated CA."""
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                f"/CN={ca}", "-keyout", str(directory / f"{ca}.key"),
                "-out", str(directory / f"{ca}.pem"))
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=rs1.test",
            "-keyout", str(directory / "server.key"), "-out", str(directory / "server.csr"))
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=DNS:rs1.test\n")
    openssl("x509", "-req", "-in", str(directory / "server.csr"), "-CA",
            str(directory / "ca.pem"), "-CAkey", str(directory / "ca.key"), "-CAcreateserial",
            "-days", "2", "-extfile", str(ext), "-out", str(directory / "server.pem"))


def virtual_server(port: int, rs_port: int, check: dict, protocol: str = "TCP") -> dict:
    return {"address": "192.0.2.100", "port": port, "protocol": protocol, "lb_algo": "rr",
            "lb_kind": "NAT", "delay_loop": DELAY_LOOP,
            "real_servers": [{"address": "RS", "port": rs_port, **check}]}


@pytest.mark.skipif(subprocess.run(["which", "openssl"], capture_output=True).returncode != 0,
                    reason="openssl not installed")
def test_each_failure_kind_takes_the_server_out_and_back(lan, haipvs_node, tmp_path):
    control = tmp_path / "control"
    control.mkdir()
    make_pki(control)
    director, rs = lan.add_node("dir"), lan.add_node("rs1")
    servers = Proc(rs.netns, [sys.executable, "-c", SERVERS, str(control)],
                   tmp_path / "servers.log", name="servers")
    tcp_server = Proc(rs.netns, tcp_accept_server(8081), tmp_path / "tcp.log",
                      name="tcp")
    wait_until(lambda: "ready" in (tmp_path / "servers.log").read_text()
               and "ready" in (tmp_path / "tcp.log").read_text(), 15, what="test servers")

    digest = hashlib.md5(b"good: rs1 healthy").hexdigest()
    # The TLS services test the certificate only: any HTTP status is fine.
    tls = {"url": [{"path": "/health", "status_code": "200-599"}], "verify": True,
           "server_name": "rs1.test"}
    misc = [sys.executable, "-c",
            f"import sys; sys.exit(int(open('{control}/misc_exit').read()))"]
    (control / "misc_exit").write_text("0")
    services = {
        "tcp refused": virtual_server(80, 8081, {"tcp_check": TIMING}),
        "HTTP 500": virtual_server(81, 8080, {"http_get": {
            "url": [{"path": "/health", "status_code": 200}], **TIMING}}),
        "digest mismatch": virtual_server(82, 8080, {"http_get": {
            "url": [{"path": "/digest", "status_code": "200-599", "digest": digest}],
            **TIMING}}),
        "regex mismatch": virtual_server(83, 8080, {"http_get": {
            "url": [{"path": "/regex", "status_code": "200-599", "regex": "^good: .*healthy"}],
            **TIMING}}),
        "TLS trusted": virtual_server(84, 8443, {"ssl_get": {
            **tls, "ca_file": str(control / "ca.pem"), **TIMING}}),
        "TLS untrusted": virtual_server(85, 8443, {"ssl_get": {
            **tls, "ca_file": str(control / "other-ca.pem"), **TIMING}}),
        "misc exit 1": virtual_server(86, 8080, {"misc_check": {
            "path": misc, "timeout": 2, "retry": RETRY,
            "delay_before_retry": DELAY_BEFORE_RETRY}}),
        "silent UDP": virtual_server(87, 5353, {"udp_check": {
            "payload": "ping", "require_reply": True, **TIMING}}, protocol="UDP"),
    }
    config_vs = yaml.safe_load(yaml.safe_dump(list(services.values())).replace("RS", rs.ip))
    daemon = haipvs_node(director, VrrpInstance(priority=150), start=False)
    config = yaml.safe_load(daemon.conf_path.read_text())
    config["virtual_servers"] = config_vs
    daemon.conf_path.write_text(yaml.safe_dump(config, sort_keys=False))
    daemon.start()
    daemon.wait_state("MASTER", 10)

    names = list(services)
    keys = {name: f"{vs['protocol']} 192.0.2.100:{vs['port']}" for name, vs in
            zip(names, config_vs, strict=True)}

    def health() -> dict[str, dict]:
        by_service = {h["service"]: h for h in daemon.dump()["ipvs"]["real_servers"]}
        return {name: by_service[key] for name, key in keys.items() if key in by_service}

    def desired_ports() -> set[int]:
        return {s["port"] for s in daemon.dump()["ipvs"]["desired"] if s["destinations"]}

    expected_up = {name: name != "TLS untrusted" for name in names}
    wait_until(lambda: {n: (h["up"] and bool(h["checks"][0]["runs"]))
                        or (not h["up"] and n == "TLS untrusted")
                        for n, h in health().items()} == dict.fromkeys(names, True),
               15, interval=0.3, what="every server checked once, only untrusted TLS down")
    assert {n: h["up"] for n, h in health().items()} == expected_up
    assert "certificate verify failed" in health()["TLS untrusted"]["reason"]
    assert 85 not in desired_ports() and 84 in desired_ports()

    # Break everything at once.
    broken_at = time.time()
    (control / "status").write_text("500")
    (control / "body").write_text("bad: rs1 sick")
    (control / "misc_exit").write_text("1")
    (control / "udp_silent").write_text("")
    tcp_server.kill()
    failing = [n for n in names if n not in ("TLS trusted", "TLS untrusted")]
    wait_until(lambda: not any(health()[n]["up"] for n in failing), TIMEOUT_BOUND + 2,
               interval=0.1, what="every broken server marked down")
    down = health()
    for name in failing:
        bound = TIMEOUT_BOUND if name == "silent UDP" else FAST_FAIL_BOUND
        took = down[name]["since"] - broken_at
        assert took <= bound, f"{name}: down after {took:.2f}s, bound {bound:.2f}s"
    reasons = {n: down[n]["reason"] for n in failing}
    assert "refused" in reasons["tcp refused"]
    assert "HTTP 500" in reasons["HTTP 500"]
    assert "digest mismatch" in reasons["digest mismatch"]
    assert "regex mismatch" in reasons["regex mismatch"]
    assert "exit 1" in reasons["misc exit 1"]
    assert "no reply" in reasons["silent UDP"] or "timeout" in reasons["silent UDP"]
    assert desired_ports() == {84}, "only the trusted TLS service still has a real server"

    # Repair everything: back within one delay_loop.
    repaired_at = time.time()
    for name in ("status", "body", "udp_silent"):
        (control / name).unlink()
    (control / "misc_exit").write_text("0")
    Proc(rs.netns, tcp_accept_server(8081), tmp_path / "tcp2.log", name="tcp2")
    wait_until(lambda: all(health()[n]["up"] for n in failing), RECOVERY_BOUND + 3,
               interval=0.1, what="every repaired server back up")
    up = health()
    for name in failing:
        took = up[name]["since"] - repaired_at
        assert took <= RECOVERY_BOUND, f"{name}: up after {took:.2f}s, bound {RECOVERY_BOUND}s"
    assert desired_ports() == {80, 81, 82, 83, 84, 86, 87}
    servers.kill()
