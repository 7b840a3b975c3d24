"""SSL_GET's client context, as keepalived 2.2.7 builds it (check/check_ssl.c build_ssl_ctx:
one context with certificate, password-protected key and CA for every SSL_GET) and reads the
answer (check_ssl.c ssl_read_thread: a close without close_notify is judged on the status)."""

from __future__ import annotations

import ssl
import subprocess

import pytest

from haipvs import cli
from haipvs.config import ConfigError, load_config_text
from haipvs.config.model import SslClient
from haipvs.health.config_map import specs_from_config
from haipvs.health.http import probe_http
from haipvs.health.spec import Endpoint, HttpProbe, TlsSpec, UrlSpec
from haipvs.health.tls_client import check_client, client_fields
from tests.health.servers import HttpRoute, HttpServer, make_certificates


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The server's certificates, plus a client certificate signed by the same CA with its
    key in clear and encrypted with the password 'sesame'."""
    directory = tmp_path_factory.mktemp("pki")
    certs = make_certificates(directory)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    key, csr, cert = directory / "client.key", directory / "client.csr", directory / "client.pem"
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", "/CN=haipvs director")
    ca_key = directory / "ca.key"
    run("x509", "-req", "-in", str(csr), "-CA", str(certs.ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2")
    encrypted = directory / "client-enc.key"
    run("pkey", "-in", str(key), "-aes256", "-passout", "pass:sesame", "-out", str(encrypted))
    return {"certs": certs, "key": key, "cert": cert, "encrypted": encrypted}


def requiring_client_certificates(pki) -> ssl.SSLContext:
    context = pki["certs"].server_context()
    context.verify_mode = ssl.CERT_REQUIRED  # nginx ssl_verify_client on
    context.load_verify_locations(cafile=str(pki["certs"].ca))
    return context


async def serve(nursery, context: ssl.SSLContext, route: HttpRoute) -> HttpServer:
    server = HttpServer({"/": route}, ssl_context=context)
    return await nursery.start(server.serve)


def probe(port: int, tls: TlsSpec) -> HttpProbe:
    return HttpProbe(Endpoint("127.0.0.1", port), (UrlSpec("/"),), 5.0, tls=tls)


async def test_build_ssl_ctx_client_certificate_is_presented(nursery, pki):
    server = await serve(nursery, requiring_client_certificates(pki), HttpRoute())
    with_cert = TlsSpec(certificate=str(pki["cert"]), key=str(pki["key"]))
    assert (await probe_http(probe(server.port, with_cert))).ok


async def test_build_ssl_ctx_encrypted_key_with_password(nursery, pki):
    server = await serve(nursery, requiring_client_certificates(pki), HttpRoute())
    tls = TlsSpec(certificate=str(pki["cert"]), key=str(pki["encrypted"]), password="sesame")
    assert (await probe_http(probe(server.port, tls))).ok


async def test_server_requiring_a_client_certificate_without_one_is_down(nursery, pki):
    server = await serve(nursery, requiring_client_certificates(pki), HttpRoute())
    result = await probe_http(probe(server.port, TlsSpec()))
    assert not result.ok
    assert result.reason.startswith("TLS") or "closed" in result.reason


async def test_ssl_read_thread_close_without_close_notify_is_judged_on_status(nursery, pki):
    # An HTTP/1.0 body ended by the connection's close, the TLS session dropped without
    # close_notify (the test server closes forcefully): keepalived's ssl_read_thread goes
    # to http_handle_response on SSL_ERROR_SYSCALL as on a clean end.
    server = await serve(nursery, pki["certs"].server_context(),
                         HttpRoute(200, b"body until close\n", framing="close"))
    result = await probe_http(probe(server.port, TlsSpec()))
    assert result.ok, result.reason
    down = await serve(nursery, pki["certs"].server_context(),
                       HttpRoute(503, b"x", framing="close"))
    assert (await probe_http(probe(down.port, TlsSpec()))).reason == "HTTP 503"


async def test_unloadable_client_context_is_a_probe_failure(nursery, pki):
    server = await serve(nursery, pki["certs"].server_context(), HttpRoute())
    tls = TlsSpec(certificate=str(pki["cert"]), key=str(pki["encrypted"]), password="wrong")
    result = await probe_http(probe(server.port, tls))
    assert not result.ok
    assert result.reason == "TLS client context: key: wrong password"


def test_init_ssl_ctx_errors_name_the_file(pki, tmp_path):
    assert check_client(None) is None
    good = SslClient(certificate=str(pki["cert"]), key=str(pki["encrypted"]),
                     password="sesame", ca=str(pki["certs"].ca))
    assert check_client(good) is None
    missing = SslClient(certificate=str(tmp_path / "nope.pem"))
    assert check_client(missing) == f"certificate: {tmp_path / 'nope.pem'}: no such file"
    wrong = SslClient(certificate=str(pki["cert"]), key=str(pki["encrypted"]), password="x")
    assert check_client(wrong) == "key: wrong password"
    no_password = SslClient(certificate=str(pki["cert"]), key=str(pki["encrypted"]))
    assert check_client(no_password) == "key: wrong password"
    bad_ca = tmp_path / "ca.pem"
    bad_ca.write_text("not a certificate\n")
    assert check_client(SslClient(ca=str(bad_ca))).startswith(f"ca: {bad_ca}: ")


def test_ssl_section_key_and_password_need_a_certificate():
    with pytest.raises(ConfigError) as info:
        load_config_text("ssl:\n  key: /k.pem\n  password: x\n")
    text = "\n".join(str(issue) for issue in info.value.issues)
    assert "ssl.key: key needs certificate" in text
    assert "ssl.password: password is only used with certificate" in text


def test_ssl_section_password_is_not_in_repr():
    client = SslClient(certificate="/c.pem", key="/k.pem", password="sesame")
    assert "sesame" not in repr(client)
    tls = TlsSpec(**client_fields(client))
    assert "sesame" not in repr(tls)


CONFIG = """\
ssl:
  certificate: {cert}
  key: {key}
  password: sesame
  ca: {ca}
virtual_servers:
  - address: 192.0.2.100
    port: 443
    real_servers:
      - address: 198.51.100.10
        port: 443
        ssl_get:
          url: [{{path: /}}]
"""


def test_every_ssl_get_uses_the_one_global_context(pki):
    text = CONFIG.format(cert=pki["cert"], key=pki["encrypted"], ca=pki["certs"].ca)
    (specs,) = specs_from_config(load_config_text(text)).values()
    tls = specs[0].probe.tls
    assert (tls.certificate, tls.key, tls.password, tls.ca) == (
        str(pki["cert"]), str(pki["encrypted"]), "sesame", str(pki["certs"].ca))
    assert not tls.verify  # keepalived never calls SSL_CTX_set_verify


def test_haipvs_check_reports_an_unloadable_ssl_file(pki, tmp_path, capsys):
    path = tmp_path / "lvs.yaml"
    path.write_text("global: {router_id: t}\n" + CONFIG.format(
        cert=pki["cert"], key=pki["encrypted"], ca=pki["certs"].ca).replace("sesame", "nope"))
    assert cli.main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:4: ssl.key: wrong password" in err
    path.write_text(path.read_text().replace("nope", "sesame"))
    assert cli.main(["check", str(path)]) == 0




URLS = """\
virtual_servers:
  - address: 192.0.2.100
    port: 443
    real_servers:
      - address: 127.0.0.1
        port: {port}
        ssl_get:
          virtualhost: checker.example.test
          sni: {sni}
          url:
            - {{path: /a, virtualhost: a.example.test}}
            - {{path: /b}}
"""


async def test_ssl_connect_sni_names_the_urls_virtualhost_else_the_checkers(nursery, pki):
    # check_ssl.c ssl_connect: url->virtualhost, else the checker's virtualhost; the Host
    # header follows the same choice (check_http.c http_request_thread)
    seen: list[str | None] = []
    context = pki["certs"].server_context()
    context.sni_callback = lambda sock, name, ctx: seen.append(name)
    server = HttpServer({"/a": HttpRoute(), "/b": HttpRoute()}, ssl_context=context)
    await nursery.start(server.serve)
    for sni, names in (("true", ["a.example.test", "checker.example.test"]),
                       ("false", [None, None])):
        seen.clear()
        server.requests.clear()
        (specs,) = specs_from_config(load_config_text(
            URLS.format(port=server.port, sni=sni))).values()
        assert (await probe_http(specs[0].probe)).ok
        assert seen == names
        assert [server.header(i, b"Host") for i in (0, 1)] == [b"a.example.test",
                                                               b"checker.example.test"]
