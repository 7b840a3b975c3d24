"""keepalived's top-level `SSL { password; ca; certificate; key }` -> haipvs `ssl:`
(keepalived/check/check_parser.c ssl_handler, sslpass/sslca/sslcert/sslkey_handler).

keepalived has one SSL context for every SSL_GET (check_ssl.c build_ssl_ctx); so has haipvs.
A second SSL block replaces the first ("SSL context already specified - replacing"), a second
file keyword its predecessor ("SSL %s already specified - replacing"). keepalived opens a
relative path from its working directory, "/" once daemonized (core/daemon.c xdaemon):
haipvs wants absolute paths, so a relative one is made absolute under "/" and noted.
"""

from __future__ import annotations

from collections.abc import Callable

from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context, Table
from haipvs.importer.state import Draft


def _file(out: str) -> Callable[[Context, Node, Draft], None]:
    def rule(ctx: Context, node: Node, draft: Draft) -> None:
        value = ctx.one(node)
        if value is None:
            return
        if not value.startswith("/"):
            absolute = "/" + value
            ctx.changed(node, f"relative path {value!r} taken as {absolute!r}, the directory "
                        "a daemonized keepalived opens it from")
            value = absolute
        if out in draft.fields:
            ctx.changed(node, f"{node.keyword} given twice: the last one is used, as "
                        "keepalived (check_parser.c handle_ssl_file)")
        draft.fields[out] = value
    return rule


def _password(ctx: Context, node: Node, draft: Draft) -> None:
    value = ctx.one(node)
    if value is not None:
        draft.fields["password"] = value


SSL_KEYWORDS: Table = {
    "password": _password,
    "ca": _file("ca"),
    "certificate": _file("certificate"),
    "key": _file("key"),
}


def ssl_block(ctx: Context, node: Node) -> None:
    if ctx.state.ssl is not None:
        ctx.changed(node, "a second SSL block replaces the first, as keepalived "
                    "(check_parser.c ssl_handler)")
    draft = Draft()
    ctx.apply_all(SSL_KEYWORDS, node, draft)
    ctx.state.ssl = draft


TOP_LEVEL = {"SSL": ssl_block}
