"""keepalived FILE_CHECK -> haipvs file_check (keepalived 2.2.7 check/check_file.c).

`track_file NAME` names a top-level track_file (vrrp_track_file) block defined before it
(track_file_handler() looks it up while parsing; an unknown name is "track_file %s not
found"); haipvs's file_check takes the block's file. `weight W [reverse|noreverse]` is the
checker's own (track_file_weight_handler(): -IPVS_WEIGHT_LIMIT..IPVS_WEIGHT_LIMIT); without
one, file_end_handler() takes the track_file's weight. Without a track_file the checker is
dropped ("FILE_CHECK has no track_file specified - ignoring").
"""

from __future__ import annotations

from typing import Any

from haipvs import limits
from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context, Draft


def track_file(ctx: Context, node: Node, draft: Draft) -> None:
    name = ctx.one(node)
    if name is None:
        return
    entry = next((e for e in ctx.state.track_files if e["name"] == name), None)
    if entry is None:
        ctx.skip(node, f"keepalived: \"track_file {name} not found\" (defined before the "
                 "FILE_CHECK); it ignores it too")
        return
    draft.fields["file"] = entry["file"]
    draft.fields["_track_file_weight"] = entry.get("weight", 1)


def weight(ctx: Context, node: Node, draft: Draft) -> None:
    values = node.values
    try:
        value = int(values[0])
    except (IndexError, ValueError):
        ctx.skip(node, "keepalived: \"weight for track file must be in [...] inclusive. "
                 "Ignoring...\"")
        return
    if len(values) > 1 and values[1] not in ("reverse", "noreverse"):
        ctx.skip(node, f"keepalived: \"unknown track file weight option {values[1]} - "
                 "ignoring\"")
        return
    if not -limits.WEIGHT_MAX <= value <= limits.WEIGHT_MAX:
        ctx.skip(node, f"weight {value}: IPVS weights stop at {limits.WEIGHT_MAX}")
        return
    draft.fields["weight"] = value
    draft.fields["reverse"] = len(values) > 1 and values[1] == "reverse"


TABLE = {"track_file": track_file, "weight": weight}


def finish(ctx: Context, node: Node, settings: dict[str, Any]) -> bool:
    """file_end_handler(): False when the checker is dropped."""
    tf_weight = settings.pop("_track_file_weight", 1)
    if "file" not in settings:
        ctx.skip(node, "keepalived: \"FILE_CHECK has no track_file specified - ignoring\"")
        return False
    settings.setdefault("weight", tf_weight)
    if not settings.get("reverse"):
        settings.pop("reverse", None)
    return True
