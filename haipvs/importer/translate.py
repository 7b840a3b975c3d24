"""keepalived.conf statements -> the haipvs YAML document.

Every statement is either translated, or reported as a Note saying why not: a keyword is
never dropped silently. Unknown keywords are reported too (they may be typos that keepalived
would also have ignored, or features haipvs does not have).

Each top-level block has its own module and keyword table: global_defs.py, vrrp.py
(vrrp_instance), vrrp_tracking.py (vrrp_script, vrrp_track_file, vrrp_sync_group),
virtual_server.py (virtual_server, virtual_server_group), real_server.py and checkers.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from haipvs.importer.bfd import bfd_instance, finish_bfd
from haipvs.importer.blocks import reshape
from haipvs.importer.global_defs import finish_fifos, global_defs
from haipvs.importer.grammar import Node
from haipvs.importer.knobs import TOP_LEVEL as KNOB_BLOCKS
from haipvs.importer.knobs import finish_knobs
from haipvs.importer.notes import Note
from haipvs.importer.process import TOP_LEVEL as PROCESS_KEYWORDS
from haipvs.importer.reasons import WHY
from haipvs.importer.routes import TOP_LEVEL as STATIC_BLOCKS
from haipvs.importer.rules import Context
from haipvs.importer.smtp import finish_smtp
from haipvs.importer.ssl_client import TOP_LEVEL as SSL_BLOCKS
from haipvs.importer.track_process import finish_track_processes, vrrp_track_process
from haipvs.importer.virtual_server import virtual_server, virtual_server_group
from haipvs.importer.vrrp import vrrp_instance
from haipvs.importer.vrrp_tracking import (
    finish_instances,
    vrrp_script,
    vrrp_sync_group,
    vrrp_track_file,
)


def _read_before(ctx: Context, node: Node) -> None:
    """virtual_server_group: read in a first pass (a virtual_server may name a group that
    is defined after it)."""


TOP_LEVEL: dict[str, Callable[[Context, Node], None]] = {
    "global_defs": global_defs,
    "vrrp_instance": vrrp_instance,
    "vrrp_sync_group": vrrp_sync_group,
    "vrrp_script": vrrp_script,
    "vrrp_track_file": vrrp_track_file,
    # track_file.c: `track_file` is the current name, `vrrp_track_file` its old synonym.
    "track_file": vrrp_track_file,
    "vrrp_track_process": vrrp_track_process,
    "bfd_instance": bfd_instance,  # -> bfd.sessions (bfd.py)
    "virtual_server": virtual_server,
    "virtual_server_group": _read_before,
    **STATIC_BLOCKS,
    **KNOB_BLOCKS,  # garp_group (knobs.py)
    **PROCESS_KEYWORDS,  # instance, net_namespace, ... (process.py)
    **SSL_BLOCKS,  # SSL (ssl_client.py)
}


class Translator:
    def __init__(self, notes: list[Note]) -> None:
        self.ctx = Context(notes)

    def run(self, nodes: list[Node]) -> dict[str, Any]:
        ctx = self.ctx
        for node in nodes:
            if node.keyword == "virtual_server_group":
                virtual_server_group(ctx, node)
        for node in nodes:
            node = reshape(node, ctx.notes)
            handler = TOP_LEVEL.get(node.keyword)
            if handler is None:
                ctx.skip(node, WHY.get(node.keyword, "unknown or unsupported top-level block"))
            else:
                handler(ctx, node)
        finish_knobs(ctx, ctx.state.instances)  # before the global garp defaults
        finish_instances(ctx)
        finish_track_processes(ctx)  # after the sync groups lost unknown members
        bfd = finish_bfd(ctx)  # track_bfd refs against the bfd_instances (bfd.py)
        finish_fifos(ctx, ctx.state.global_defs)
        finish_smtp(ctx, ctx.state.global_defs)
        state = ctx.state
        document: dict[str, Any] = {}
        if state.global_defs.fields:
            document["global"] = state.global_defs.fields
        for key, items in (("vrrp_scripts", state.scripts),
                           ("vrrp_track_files", state.track_files),
                           ("vrrp_track_processes", state.track_processes),
                           ("vrrp_sync_groups", state.sync_groups),
                           ("vrrp_instances", [i.block for i in state.instances]),
                           ("virtual_servers", state.virtual_servers)):
            if items:
                document[key] = items
        if bfd is not None:
            document["bfd"] = bfd
        document.update(state.static)
        if state.ssl is not None and state.ssl.fields:
            document["ssl"] = state.ssl.fields
        return document
