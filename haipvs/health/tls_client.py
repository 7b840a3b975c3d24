"""The SSL_GET client context: keepalived's one global SSL_CTX (check/check_ssl.c
build_ssl_ctx), plus haipvs' optional per-checker verification.

keepalived: certificate via SSL_CTX_use_certificate_chain_file, the PEM key with the password
callback, `ca` via SSL_CTX_load_verify_locations, verify depth 1, and no SSL_CTX_set_verify, so
the server's certificate is never checked. haipvs does the same unless a checker asks for
`verify: true` (then `ca_file`, else the global `ca`, else the system store).
"""

from __future__ import annotations

import functools
import ssl

from haipvs.config.ssl_client import SslClient
from haipvs.health.spec import TlsSpec


class ClientContextError(Exception):
    """A file of the `ssl` section that does not load; the message names which and why."""


@functools.lru_cache(maxsize=64)
def tls_context(tls: TlsSpec) -> ssl.SSLContext:
    """One client context per distinct TLS setting, shared by every checker using it.
    Raises ClientContextError when a client file does not load."""
    if tls.verify:
        context = ssl.create_default_context(cafile=tls.ca_file or tls.ca)
        context.check_hostname = tls.server_name is not None
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if tls.ca is not None:  # loaded, not enforced: as keepalived
            _load(context.load_verify_locations, "ca", tls.ca, cafile=tls.ca)
    if tls.certificate is not None:
        asked: list[bool] = []

        def password() -> bytes:
            # A callback, so an encrypted key without a password fails instead of prompting
            # on the terminal (OpenSSL's default reads the tty; keepalived's password_cb
            # returns the configured one).
            asked.append(True)
            return (tls.password or "").encode()

        try:
            _load(context.load_cert_chain, "certificate", tls.certificate,
                  certfile=tls.certificate, keyfile=tls.key, password=password)
        except ClientContextError:
            if asked:  # the key was encrypted: its password did not open it
                raise ClientContextError("key: wrong password") from None
            raise
    return context


def _load(load, what: str, path: str, **kwargs) -> None:
    try:
        load(**kwargs)
    except FileNotFoundError:
        raise ClientContextError(f"{what}: {path}: no such file") from None
    except PermissionError:
        raise ClientContextError(f"{what}: {path}: permission denied") from None
    except ssl.SSLError as exc:
        reason = (exc.reason or str(exc)).lower().replace("_", " ")
        if reason == "key values mismatch":
            raise ClientContextError(f"key: does not match the certificate {path}") from None
        raise ClientContextError(f"{what}: {path}: {reason}") from None
    except OSError as exc:
        raise ClientContextError(f"{what}: {path}: {exc.strerror or exc}") from None


def client_fields(client: SslClient | None) -> dict[str, str | None]:
    """The TlsSpec fields of the global `ssl` section."""
    if client is None:
        return {}
    return {"certificate": client.certificate, "key": client.key,
            "password": client.password, "ca": client.ca}


def check_client(client: SslClient | None) -> str | None:
    """Why the `ssl` section does not load (keepalived init_ssl_ctx failing), or None."""
    if client is None:
        return None
    try:
        tls_context.__wrapped__(TlsSpec(**client_fields(client)))
    except ClientContextError as exc:
        return str(exc)
    return None
