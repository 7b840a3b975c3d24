"""The ownership ledger: which IPVS services this director added, kept on disk.

The reconciler only deletes services it owns. In memory that is "every service the config
ever named"; after a crash that memory is gone, and a service dropped from the config while
the daemon was down would be taken for foreign and left in the kernel forever. So the keys
are written *before* any op that could add one (write-ahead) and rewritten when the set
shrinks. A restart reads them back and deletes what the new config no longer names.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import structlog

from haipvs.ipvs.model import ServiceKey

log = structlog.get_logger("haipvs.ipvs")

LEDGER_FORMAT = 1
LEDGER_NAME = "ipvs-owned.json"


def encode_key(key: ServiceKey) -> dict[str, int | str]:
    if key.is_fwmark:
        return {"family": key.family, "fwmark": key.fwmark}
    return {"family": key.family, "protocol": key.protocol, "address": key.address,
            "port": key.port}


def decode_key(entry: dict) -> ServiceKey:
    if "fwmark" in entry:
        return ServiceKey.mark(int(entry["fwmark"]), int(entry["family"]))
    return ServiceKey.inet(int(entry["protocol"]), str(entry["address"]), int(entry["port"]))


class OwnershipLedger:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._written: frozenset[ServiceKey] | None = None

    def load(self) -> set[ServiceKey]:
        """The keys a previous run owned. A missing file is an empty ledger; an unreadable
        one is logged and ignored (we then only delete what the config names, as before)."""
        try:
            data = json.loads(self.path.read_text())
            if data.get("format") != LEDGER_FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {LEDGER_FORMAT}")
            keys = {decode_key(entry) for entry in data["services"]}
        except FileNotFoundError:
            return set()
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("ipvs_ownership_ledger_unreadable", path=str(self.path),
                        error=f"{type(exc).__name__}: {exc}")
            return set()
        self._written = frozenset(keys)
        return keys

    def save(self, keys: set[ServiceKey]) -> None:
        """Write `keys` if they differ from the last write: rename of a fsynced temp file,
        so a crash leaves the old ledger or the new one, never half of one."""
        frozen = frozenset(keys)
        if frozen == self._written:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        services = [encode_key(k) for k in sorted(frozen, key=lambda k: k.sort_key)]
        text = json.dumps({"format": LEDGER_FORMAT, "services": services}, indent=1) + "\n"
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        self._written = frozen
