"""The `haipvs import-keepalived` command."""

from __future__ import annotations

import argparse
import os
import sys

from haipvs.config import ConfigError, load_config_text
from haipvs.importer import UnreadableConfig, import_keepalived


def run(args: argparse.Namespace) -> int:
    try:
        result = import_keepalived(args.file, config_id=args.config_id)
    except (OSError, UnreadableConfig) as exc:
        print(f"haipvs import-keepalived: {exc}", file=sys.stderr)
        return 1
    for note in result.notes:
        print(note, file=sys.stderr)
    status = 0
    try:
        load_config_text(result.yaml, args.output or "<output>")
    except ConfigError as exc:
        # Should not happen; if it does, say so rather than hand over a file that fails.
        for issue in exc.issues:
            print(f"output does not pass haipvs check: {issue}", file=sys.stderr)
        status = 1
    if args.output:
        tmp = f"{args.output}.tmp"
        with open(tmp, "w") as stream:
            stream.write(result.yaml)
        os.replace(tmp, args.output)
    else:
        sys.stdout.write(result.yaml)
    dropped = len(result.dropped)
    print(f"{args.file}: translated; {dropped} item{'s' if dropped != 1 else ''} not "
          "translated", file=sys.stderr)
    return status
