"""`ssl`: the one client TLS context of every ssl_get checker (keepalived's top-level
`SSL { password; ca; certificate; key }`, check/check_parser.c ssl_handler and friends).

keepalived builds ONE SSL_CTX for all SSL_GET checks (check/check_ssl.c build_ssl_ctx):
the certificate with SSL_CTX_use_certificate_chain_file, the PEM key with the password
callback, the CAs with SSL_CTX_load_verify_locations, verify depth 1. It never calls
SSL_CTX_set_verify, so the server's certificate is not verified: `ca` only makes the CAs
available (haipvs: to a checker with `verify: true` and no `ca_file` of its own).

Reading the files is I/O, so it is not done here: haipvs/health/tls_client.py loads them, and
`haipvs check` / the daemon's start report a file that does not load (keepalived's
init_ssl_ctx failure stops the checker process: check_daemon.c start_check)."""

from __future__ import annotations

from typing import Any

from haipvs.config.common import ABS_PATH
from haipvs.config.kinds import Text
from haipvs.config.settings import derived, model_section, setting
from haipvs.config.spec import Values
from haipvs.dataclass_lean import dataclass


@dataclass(frozen=True, repr=False)
class SslClient:
    """The client side of every ssl_get: a certificate chain and its key, a CA bundle."""

    certificate: str | None = setting(ABS_PATH, None,
                                      "PEM certificate chain presented to real servers")
    key: str | None = setting(ABS_PATH, None, "PEM private key of the certificate",
                              doc_default="the key in the certificate file")
    password: str | None = setting(Text(1024), None, "password of an encrypted key")
    ca: str | None = setting(ABS_PATH, None, "PEM CA bundle: used by checkers with "
                             "verify: true and no ca_file (keepalived loads it, verifies "
                             "nothing)")
    # Where each file setting is, for the load errors `haipvs check` reports.
    lines: tuple[tuple[str, int], ...] = derived(())

    def line_of(self, name: str) -> int:
        return dict(self.lines).get(name, 0)

    def __repr__(self) -> str:  # the dump and logs must not show the password
        return (f"SslClient(certificate={self.certificate!r}, key={self.key!r}, "
                f"password={'***' if self.password else None}, ca={self.ca!r})")


def _check(v: Values) -> None:
    # Python's ssl loads a key only together with its certificate (load_cert_chain).
    if v.ok("key", "certificate") and v["key"] is not None and v["certificate"] is None:
        v.error("key", "key needs certificate")
    if v.ok("password", "certificate") and v["password"] is not None and v["certificate"] is None:
        v.error("password", "password is only used with certificate")


def _derive(v: Values) -> dict[str, Any]:
    return {"lines": tuple((name, int(v.line(name)))
                           for name in ("certificate", "key", "password", "ca")
                           if v[name] is not None)}


SSL_CLIENT = model_section(
    SslClient,
    "ssl",
    "SSL_GET client context",
    "The one TLS client context of every ssl_get checker (keepalived's `SSL` block): the "
    "client certificate real servers may require, its key and the key's password, a CA "
    "bundle. The files are loaded by `haipvs check` and at start: one that does not load "
    "is an error.",
    check=_check,
    derive=_derive,
    rules=("`key` and `password` need `certificate`.",),
)
