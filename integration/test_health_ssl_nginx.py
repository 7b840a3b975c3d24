"""Acceptance 2 of issue 16 for SSL_GET: nginx requiring client certificates
(`ssl_verify_client on`) in the real server's namespace.

- The global `ssl:` section (keepalived's SSL block; check_ssl.c build_ssl_ctx) presents a
  client certificate whose key is encrypted (`password`): the check is up. The same probe
  code without it gets nginx's "400 No required SSL certificate was sent": down.
- SNI (check_ssl.c ssl_connect: only with enable_sni, naming the virtualhost): nginx has two
  server blocks answering different bodies; `sni: true` reaches www.example.test's, `sni:
  false` (keepalived's default, what the importer writes without enable_sni) sends none; a
  url's own virtualhost is that url's SNI name.
  nginx answers its $ssl_server_name in the body (the Host header picks the server block
  whatever the SNI, so the body names the SNI itself); `regex` on it tells the two apart,
  and nginx's access log confirms.
- up -> down -> up as nginx is stopped and started. Bound (check_http.c http_handle_response
  / check_api.c): once an attempt meets the cause, the server changes within connect_timeout
  + retry * delay_before_retry (+ 50 ms), measured from the checker's first SYN after the
  cause, kernel-timestamped in the real server's namespace, as test_health_smtp_udp.py does.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from integration.harness.check_timing import CheckWatch
from integration.harness.instance import VrrpInstance
from integration.harness.proc import Proc
from integration.harness.requirements import haipvs_unavailable_reason
from integration.harness.sniffer import Sniffer
from integration.harness.wait import wait_until

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(haipvs_unavailable_reason() is not None,
                       reason=haipvs_unavailable_reason() or ""),
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed"),
]

LAN_PREFIX = "gs"  # this module's own namespaces (the harness's lan fixture)
CONNECT_TIMEOUT, RETRY, DELAY_BEFORE_RETRY, DELAY_LOOP = 1.0, 1, 0.5, 1.0
BOUND = CONNECT_TIMEOUT + RETRY * DELAY_BEFORE_RETRY + 0.05
TIMING = {"connect_timeout": CONNECT_TIMEOUT, "retry": RETRY,
          "delay_before_retry": DELAY_BEFORE_RETRY}
SNI_PORT, PLAIN_PORT = 8443, 9443  # one per check, so each check's SYNs are its own
VHOST = "www.example.test"
OTHER = "other.example.test"
PASSWORD = "sesame"

NGINX_CONF = """\
user root;
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    log_format sni '$server_port sni=$ssl_server_name verify=$ssl_client_verify '
                   '"$request" $status';
    access_log {d}/access.log sni;
    client_body_temp_path {d}/tmp;
    proxy_temp_path {d}/tmp;
    fastcgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp;
    scgi_temp_path {d}/tmp;
    ssl_certificate {d}/server.pem;
    ssl_certificate_key {d}/server.key;
    ssl_client_certificate {d}/ca.pem;
    ssl_verify_client on;
    server {{
        listen {sni} ssl default_server;
        listen {plain} ssl default_server;
        server_name _;
        location / {{ return 200 "default server sni=$ssl_server_name\\n"; }}
    }}
    server {{
        listen {sni} ssl;
        listen {plain} ssl;
        server_name {vhost};
        location / {{ return 200 "virtual host sni=$ssl_server_name\\n"; }}
    }}
}}
"""


def make_pki(d: Path) -> None:
    """CA, nginx's certificate, and the director's client certificate with its key
    encrypted by PASSWORD (openssl CLI)."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    run("req", "-x509", *ec, "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"),
        "-days", "2", "-subj", "/CN=haipvs test CA")
    for name, cn in (("server", VHOST), ("client", "haipvs director")):
        run("req", *ec, "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"),
            "-subj", f"/CN={cn}")
        run("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"),
            "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-out", str(d / f"{name}.pem"),
            "-days", "2")
    run("pkey", "-in", str(d / "client.key"), "-aes256", "-passout", f"pass:{PASSWORD}",
        "-out", str(d / "client-enc.key"))


def syn_to(port: int):
    """keep() for the sniffer: TCP SYNs (without ACK) to `port` over IPv4."""

    def keep(data: bytes) -> bool:
        if len(data) < 54 or struct.unpack_from("!H", data, 12)[0] != 0x0800 or data[23] != 6:
            return False
        l4 = 14 + (data[14] & 0x0F) * 4
        return (struct.unpack_from("!H", data, l4 + 2)[0] == port
                and (data[l4 + 13] & 0x12) == 0x02)

    return keep


PROBE_WITHOUT_CERT = """
import sys, trio
from haipvs.health.http import probe_http
from haipvs.health.spec import Endpoint, HttpProbe, TlsSpec, UrlSpec
probe = HttpProbe(Endpoint(sys.argv[1], int(sys.argv[2])), (UrlSpec("/"),), 3.0,
                  virtualhost=sys.argv[3], tls=TlsSpec(sys.argv[3]))
result = trio.run(probe_http, probe)
print(result.ok, result.reason)
"""


def test_ssl_get_with_client_certificate_and_sni_against_nginx(lan, haipvs_node, tmp_path):
    pki = tmp_path / "nginx"
    (pki / "tmp").mkdir(parents=True)
    make_pki(pki)
    (pki / "nginx.conf").write_text(NGINX_CONF.format(d=pki, sni=SNI_PORT, plain=PLAIN_PORT,
                                                      vhost=VHOST))
    director, rs = lan.add_node("dir"), lan.add_node("rs1")
    starts = iter(range(1, 10))

    def start_nginx() -> Proc:
        tag = next(starts)
        proc = Proc(rs.netns, ["nginx", "-p", str(pki), "-c", str(pki / "nginx.conf")],
                    tmp_path / f"nginx-{tag}.log", name=f"nginx-{tag}")
        wait_until(lambda: (pki / "nginx.pid").exists() and not proc.returncode, 15,
                   what="nginx started")
        return proc

    nginx = start_nginx()
    ssl_get = {"virtualhost": VHOST, **TIMING}
    services = [
        {"address": "192.0.2.100", "port": 443, "protocol": "TCP", "lb_algo": "rr",
         "lb_kind": "NAT", "delay_loop": DELAY_LOOP,
         "real_servers": [{"address": rs.ip, "port": SNI_PORT, "ssl_get": {
             **ssl_get, "sni": True,
             "url": [{"path": "/", "regex": r"sni=www\.example\.test$"},
                     # a url's own virtualhost is its SNI name (check_ssl.c ssl_connect)
                     {"path": "/other", "virtualhost": OTHER,
                      "regex": r"sni=other\.example\.test$"}]}}]},
        {"address": "192.0.2.100", "port": 4443, "protocol": "TCP", "lb_algo": "rr",
         "lb_kind": "NAT", "delay_loop": DELAY_LOOP,
         "real_servers": [{"address": rs.ip, "port": PLAIN_PORT, "ssl_get": {
             **ssl_get, "sni": False,
             "url": [{"path": "/", "regex": "sni=$"}]}}]},
    ]
    daemon = haipvs_node(director, VrrpInstance(priority=150), start=False)
    config = yaml.safe_load(daemon.conf_path.read_text())
    config["virtual_servers"] = services
    config["ssl"] = {"certificate": str(pki / "client.pem"),
                     "key": str(pki / "client-enc.key"), "password": PASSWORD,
                     "ca": str(pki / "ca.pem")}
    daemon.conf_path.write_text(yaml.safe_dump(config, sort_keys=False))
    sniffers = {"sni": Sniffer(rs.netns.name, rs.iface, keep=syn_to(SNI_PORT)),
                "plain": Sniffer(rs.netns.name, rs.iface, keep=syn_to(PLAIN_PORT))}
    for sniffer in sniffers.values():
        sniffer.start()
    try:
        daemon.start()
        daemon.wait_state("MASTER", 10)
        keys = {"sni": "TCP 192.0.2.100:443", "plain": "TCP 192.0.2.100:4443"}

        watch = CheckWatch(daemon, keys, sniffers)
        health, is_up = watch.health, watch.is_up

        def transition(up: bool, cause_at: float, why: str) -> None:
            watch.transition(keys, up, cause_at, why, BOUND, DELAY_LOOP + BOUND + 5)

        # Up with the client certificate, each check's regex matching the SNI nginx saw
        # (the regexes would fail the other way round).
        def describe() -> str:
            access = (pki / "access.log").read_text().splitlines()[-4:]
            return f"health {health()}; nginx access log tail {access}"

        wait_until(lambda: is_up("sni") and is_up("plain"), 15, interval=0.1,
                   what="both ssl_get checks up", describe=describe)
        log = (pki / "access.log").read_text().splitlines()
        assert f"{SNI_PORT} sni={VHOST} verify=SUCCESS \"GET / HTTP/1.0\" 200" in log, log[-5:]
        assert f"{PLAIN_PORT} sni=- verify=SUCCESS \"GET / HTTP/1.0\" 200" in log, log[-5:]
        assert (f"{SNI_PORT} sni={OTHER} verify=SUCCESS \"GET /other HTTP/1.0\" 200"
                in log), log[-5:]

        # Without the client certificate (the same probe code, no `ssl` context): down.
        out = subprocess.run(
            director.netns.argv(sys.executable, "-c", PROBE_WITHOUT_CERT, rs.ip,
                                str(SNI_PORT), VHOST),
            capture_output=True, text=True, timeout=30, check=True).stdout.strip()
        assert out == "False HTTP 400", out
        assert any("verify=NONE" in line and '" 400' in line
                   for line in (pki / "access.log").read_text().splitlines())

        # up -> down: nginx stopped (refused); down -> up: started again.
        nginx.kill()
        cause = time.time()
        transition(False, cause, "nginx stopped")
        assert all("refused" in h["reason"] for h in health().values()), health()
        nginx = start_nginx()
        cause = time.time()
        transition(True, cause, "nginx restarted")
    finally:
        for sniffer in sniffers.values():
            sniffer.stop()
        nginx.kill()
