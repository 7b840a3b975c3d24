"""A checker's bind_port / bind_if (keepalived core/layer4.c socket_bind_connect:
SO_BINDTODEVICE to bind_if, then bind to bindto:bind_port; check_api.c check_conn_opts)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from haipvs.config import ConfigError, load_config_text
from haipvs.health.config_map import specs_from_config
from haipvs.health.http import probe_http
from haipvs.health.spec import Endpoint, HttpProbe, TcpProbe, UrlSpec
from haipvs.health.tcp import probe_tcp
from haipvs.importer import import_keepalived
from tests.health.servers import HttpRoute, HttpServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_socket_bind_connect_binds_bindto_and_bind_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        source = free_port()
        probe = TcpProbe(Endpoint("127.0.0.1", port, "127.0.0.1", source, "lo"), 2.0)
        result = await probe_tcp(probe)
        assert result.ok, result.reason
        conn, peer = listener.accept()  # queued even though the checker has closed it
        conn.close()
    assert peer == ("127.0.0.1", source)


async def test_http_get_through_bind_if(nursery):
    server = HttpServer({"/": HttpRoute()})
    await nursery.start(server.serve)
    ok = HttpProbe(Endpoint("127.0.0.1", server.port, bind_if="lo"), (UrlSpec("/"),), 2.0)
    assert (await probe_http(ok)).ok
    missing = HttpProbe(Endpoint("127.0.0.1", server.port, bind_if="haipvsnone0"),
                        (UrlSpec("/"),), 2.0)
    result = await probe_http(missing)
    assert not result.ok


CONFIG = """\
virtual_servers:
  - address: 192.0.2.100
    port: 80
    real_servers:
      - address: 198.51.100.10
        port: 80
        tcp_check: {checker}
"""


def test_bind_port_and_bind_if_reach_the_probe():
    config = load_config_text(CONFIG.format(
        checker="{bindto: 198.51.100.1, bind_port: 4000, bind_if: eth1}"))
    (specs,) = specs_from_config(config).values()
    endpoint = specs[0].probe.endpoint
    assert (endpoint.bindto, endpoint.bind_port, endpoint.bind_if) == (
        "198.51.100.1", 4000, "eth1")


@pytest.mark.parametrize(("checker", "message"), [
    ("{bind_port: 4000}", "tcp_check.bind_port: bind_port needs bindto"),
    ("{connect_ip: 'fe80::1'}",
     "tcp_check.bind_if: the link-local address fe80::1 needs bind_if"),
])
def test_check_conn_opts_errors(checker, message):
    with pytest.raises(ConfigError) as info:
        load_config_text(CONFIG.format(checker=checker))
    assert any(message in str(issue) for issue in info.value.issues), info.value.issues


def test_importer_translates_bind_port_and_bind_if(tmp_path: Path):
    path = tmp_path / "keepalived.conf"
    path.write_text("""virtual_server 192.0.2.100 80 {
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.10 80 {
        TCP_CHECK {
            bindto 198.51.100.1
            bind_port 4000
            bind_if eth1
        }
        HTTP_GET {
            url {
                path /
            }
            bind_port 4001
        }
    }
}
""")
    result = import_keepalived(path, display="keepalived.conf")
    config = load_config_text(result.yaml, "imported.yaml")
    tcp, http = config.virtual_servers[0].real_servers[0].checkers
    assert (str(tcp.bindto), tcp.bind_port, tcp.bind_if) == ("198.51.100.1", 4000, "eth1")
    assert http.bind_port is None  # keepalived binds no port without bindto
    assert [(n.line, n.keyword) for n in result.notes] == [(14, "bind_port")]
