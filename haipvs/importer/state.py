"""What the translation has gathered so far, as typed records: each block's translation is
kept with what later passes need (the statements its keys came from), never attached to the
output mappings."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from haipvs.dataclass_lean import dataclass
from haipvs.importer.emit import Block
from haipvs.importer.grammar import Node


@dataclass
class Draft:
    """A block being translated: `fields` holds its haipvs keys as they are read."""

    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class GlobalDefs(Draft):
    """global_defs: `fields` is the `global:` mapping; the rest are defaults that apply to
    every vrrp_instance once all are read."""

    fields: Block = field(default_factory=Block)
    garp: dict[str, int | float] = field(default_factory=dict)  # haipvs garp key -> value
    version: int | None = None
    # The statement that set global.lvs_sync_daemon, to report if its instance is dropped.
    sync_daemon_node: Node | None = None
    fifo_nodes: dict[str, Node] = field(default_factory=dict)  # FIFO keyword -> its statement
    # vrrp_mcast_group4/6 and garp_group intervals (haipvs.importer.knobs), applied at the end
    knobs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Instance:
    """A translated vrrp_instance and the statements its settings came from (keyword, or
    `track_script:NAME` / `track_file:NAME` for one tracked item)."""

    block: Block
    sources: dict[str, Node]


@dataclass
class GroupMember:
    """One virtual_server_group entry: the head (address and port, or fwmark) of the
    virtual server it stands for."""

    head: dict[str, Any]
    node: Node


@dataclass
class TranslationState:
    global_defs: GlobalDefs = field(default_factory=GlobalDefs)
    scripts: list[Block] = field(default_factory=list)
    track_files: list[Block] = field(default_factory=list)
    track_processes: list[Block] = field(default_factory=list)
    # sync group name -> its track_process refs and their statements (track_process.py)
    group_track_process: dict[str, tuple[list[Any], dict[str, Node]]] = field(
        default_factory=dict)
    sync_groups: list[Block] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)
    virtual_servers: list[Block] = field(default_factory=list)
    vs_groups: dict[str, list[GroupMember]] = field(default_factory=dict)
    # name -> its members as written, when kept as a haipvs group (importer/vs_group.py)
    vs_group_texts: dict[str, list[str]] = field(default_factory=dict)
    # static_ipaddress / static_routes / static_rules -> their entries (importer/routes.py)
    static: dict[str, list[Any]] = field(default_factory=dict)
    # keepalived's top-level SSL block -> `ssl` (importer/ssl_client.py)
    ssl: Draft | None = None
    # bfd_instance sessions and track_bfd references (importer/bfd.py BfdImport)
    bfd: Any = None
