"""keepalived's vmac keywords -> haipvs (haipvs/policy/vmac.py has the semantics).

- vrrp_instance `use_vmac [NAME] [MAC]` (vrrp_parser.c vrrp_vmac_handler()) -> `use_vmac:
  true` and `vmac_name: NAME`. A MAC (a word with ':') is not translated: haipvs always uses
  the RFC 5798 virtual MAC.
- `vmac_xmit_base` -> `vmac_xmit_base: true`; keepalived clears it without use_vmac and in
  strict mode (vrrp.c vrrp_complete_instance()), and so does the translation.
- `use_ipvlan`, `use_vmac_addr` and global `vmac_prefix` / `vmac_addr_prefix` are not
  translated (see docs/migration.md); `vmac_garp_intvl` is knobs.py's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context, Flag, Rule, Skip
from haipvs.importer.state import Draft

# common.py IFNAME: at most 15 characters, no '/', ':' or whitespace (dev_name_valid())
_IFNAME = re.compile(r"[^/:\s]{1,15}")


def use_vmac(ctx: Context, node: Node, draft: Draft) -> None:
    draft.fields["use_vmac"] = True
    for word in node.values[:2]:  # keepalived reads at most two words
        if ":" in word:
            ctx.skip(node, f"the vmac MAC {word}: haipvs always uses the RFC 5798 virtual MAC "
                     "00:00:5e:00:01:VRID (IPv6 00:00:5e:00:02:VRID)")
        elif "vmac_name" in draft.fields:
            ctx.skip(node, "VMAC interface name already specified; keepalived ignores it too")
        elif not _IFNAME.fullmatch(word):
            ctx.skip(node, f"VMAC interface name {word!r} too long or invalid characters; "
                     "keepalived ignores it too")
        else:
            draft.fields["vmac_name"] = word
    for word in node.values[2:]:
        ctx.skip(node, f"{word}: keepalived reads only a name and a MAC")


INSTANCE_RULES: dict[str, Rule] = {
    "use_vmac": use_vmac,
    "vmac_xmit_base": Flag("vmac_xmit_base", True),
    "use_ipvlan": Skip("haipvs has no ipvlan interfaces; use_vmac (a macvlan) is the nearest"),
    "use_vmac_addr": Skip("haipvs does not put the vmac's MAC on an existing interface"),
}

GLOBAL_RULES: dict[str, Rule] = {
    "vmac_prefix": Skip("haipvs names vmacs vrrp.VRID (keepalived's default); set vmac_name"),
    "vmac_addr_prefix": Skip("haipvs does not use use_vmac_addr"),
}


def complete(ctx: Context, f: dict[str, Any], sources: Mapping[str, Node],
             vrrp_strict: bool = False) -> None:
    """vrrp.c vrrp_complete_instance(): what keepalived clears, cleared with a note."""
    node = sources.get("vmac_xmit_base")
    if not f.get("vmac_xmit_base") or node is None:
        return
    if not f.get("use_vmac"):
        del f["vmac_xmit_base"]
        ctx.changed(node, "keepalived clears it: \"vmac_xmit_base is only valid with a vmac\"")
    elif f.get("strict_mode", vrrp_strict):
        del f["vmac_xmit_base"]
        ctx.changed(node, "keepalived clears it: \"xmit_base is incompatible with strict mode "
                    "- resetting\"")
