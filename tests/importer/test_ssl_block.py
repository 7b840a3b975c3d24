"""keepalived's top-level SSL block and SSL_GET's enable_sni in `haipvs import-keepalived`
(keepalived/check/check_parser.c ssl_handler and its file handlers; check_http.c
enable_sni_handler; check_ssl.c ssl_connect chooses the SNI name)."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from haipvs.config import load_config_text
from haipvs.config.warnings import differences_for
from haipvs.importer import import_keepalived
from haipvs.importer.notes import CHANGED

VS = """
virtual_server 192.0.2.100 443 {{
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.10 443 {{
        SSL_GET {{
            url {{
                path /
            }}
{checker}
        }}
    }}
}}
"""


def imported(tmp_path: Path, text: str):
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    result = import_keepalived(path, display="keepalived.conf")
    return load_config_text(result.yaml, "imported.yaml"), result


def test_ssl_block_is_the_global_ssl_section(tmp_path: Path):
    config, result = imported(tmp_path, """
SSL {
    password sesame
    ca /etc/keepalived/ca.pem
    certificate /etc/keepalived/client.pem
    key /etc/keepalived/client.key
}
""" + VS.format(checker=""))
    assert not result.notes
    assert (config.ssl.certificate, config.ssl.key, config.ssl.password, config.ssl.ca) == (
        "/etc/keepalived/client.pem", "/etc/keepalived/client.key", "sesame",
        "/etc/keepalived/ca.pem")


def test_ssl_handler_second_block_replaces_the_first(tmp_path: Path):
    config, result = imported(tmp_path, """
SSL {
    certificate /a.pem
    key /a.key
}
SSL {
    certificate /b.pem
}
""")
    assert config.ssl.certificate == "/b.pem" and config.ssl.key is None
    assert [(n.line, n.kind) for n in result.notes] == [(6, CHANGED)]


def test_relative_ssl_file_is_opened_from_root_as_a_daemonized_keepalived(tmp_path: Path):
    config, result = imported(tmp_path, "SSL {\n    certificate client.pem\n}\n")
    assert config.ssl.certificate == "/client.pem"
    assert [(n.line, n.keyword, n.kind) for n in result.notes] == [(2, "certificate", CHANGED)]


def test_ssl_connect_sends_sni_only_with_enable_sni(tmp_path: Path):
    # keepalived: SSL_set_tlsext_host_name only when enable_sni (off by default)
    without, _ = imported(tmp_path, VS.format(checker="virtualhost www.example.test"))
    (checker,) = without.virtual_servers[0].real_servers[0].checkers
    assert checker.sni is False and checker.virtualhost == "www.example.test"
    with_sni, _ = imported(tmp_path, VS.format(
        checker="virtualhost www.example.test\nenable_sni"))
    (checker,) = with_sni.virtual_servers[0].real_servers[0].checkers
    assert checker.sni is True and checker.virtualhost == "www.example.test"


def test_ssl_client_translation_is_pure():
    source = Path(__file__).parents[2] / "haipvs" / "importer" / "ssl_client.py"
    roots = {n.module.split(".")[0] for n in ast.walk(ast.parse(source.read_text()))
             if isinstance(n, ast.ImportFrom) and n.module}
    assert roots <= {"__future__", "collections", "haipvs"}


def test_haipvs_check_notes_the_sni_default_only_where_a_name_would_be_sent():
    # check_ssl.c ssl_connect: keepalived sends SNI only with enable_sni
    where = "virtual_servers[].real_servers[].ssl_get.sni"
    base = ("virtual_servers:\n  - address: 192.0.2.100\n    port: 443\n    real_servers:\n"
            "      - address: 198.51.100.10\n        port: 443\n        ssl_get: {checker}\n")
    for checker, applies in (("{url: [{path: /}], virtualhost: www.example.test}", True),
                             ("{url: [{path: /}], virtualhost: www.example.test, sni: false}",
                              False),
                             ("{url: [{path: /}]}", False)):
        text = base.format(checker=checker)
        found = [d.where for d in differences_for(load_config_text(text), yaml.safe_load(text))]
        assert (where in found) is applies, checker
        found = [d.where for d in differences_for(load_config_text(text))]
        assert (where in found) is applies, checker


def test_url_virtualhost_is_the_urls_own(tmp_path: Path):
    # check_http.c: virtualhost in a url block is that url's (Host header; SNI with
    # enable_sni, check_ssl.c ssl_connect)
    config, result = imported(tmp_path, VS.format(checker="").replace(
        "                path /\n", "                path /\n"
        "                virtualhost a.example.test\n"))
    (checker,) = config.virtual_servers[0].real_servers[0].checkers
    assert checker.urls[0].virtualhost == "a.example.test" and checker.virtualhost is None
    assert checker.sni is False and not result.notes
