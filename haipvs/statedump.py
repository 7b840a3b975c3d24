"""The SIGUSR1 (and SIGJSON) state dump: `haipvs.json` (machine-readable, format 1) and
`haipvs.data` (the same facts laid out for people, like keepalived's /tmp/keepalived.data);
and the SIGUSR2 statistics `haipvs.stats` (like /tmp/keepalived.stats, rendered by
haipvs/vrrp_stats.py).

Both files are written to a temporary name and renamed, so a reader never sees half a dump.
The JSON format is documented in docs/operations.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DUMP_FORMAT = 1
JSON_NAME = "haipvs.json"
TEXT_NAME = "haipvs.data"
STATS_NAME = "haipvs.stats"


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def render_text(dump: dict[str, Any]) -> str:
    lines = [
        f"haipvs state dump (format {dump['format']}), pid {dump['pid']}, "
        f"router_id {dump.get('router_id') or '-'}",
        "",
    ]
    for name, inst in sorted(dump.get("instances", {}).items()):
        lines += [
            f"VRRP instance {name}",
            f"  state              {inst['state']}",
            f"  interface          {inst['interface']}"
            f" (IPv{inst['family']}, VRRPv{inst['version']})",
            f"  virtual router id  {inst['vrid']}",
            f"  priority           {inst['effective_priority']} (base {inst['base_priority']})",
            f"  advert interval    {inst['advert_int']} s",
            f"  master seen        {inst['master_ip'] or '-'}",
            f"  VIPs held          {', '.join(inst['vips_held']) or '-'}",
        ]
        counters = inst["counters"]
        lines.append(
            f"  adverts            sent {counters.get('adverts_sent', 0)}, "
            f"received {counters.get('adverts_received', 0)}; "
            f"transitions {counters.get('transitions', 0)}"
        )
        drops = {k: v for k, v in counters.get("drops", {}).items() if v}
        lines.append(
            "  drops              "
            + (", ".join(f"{k} {v}" for k, v in sorted(drops.items())) or "none")
        )
        for t in inst.get("last_transitions", [])[-5:]:
            lines.append(
                f"  transition         {t['from']} -> {t['to']} ({t['reason']}) at {t['at']:.3f}"
            )
        lines.append("")
    ipvs = dump.get("ipvs", {})
    lines.append(f"IPVS: {ipvs.get('status', 'unknown')}")
    if ipvs.get("error"):
        lines.append(f"  {ipvs['error']}")
    scale_out = dump.get("scale_out")
    if scale_out:  # bgp-mode VIPs (haipvs/daemon_scale_out.py)
        lines += ["", f"Scale-out: table {scale_out['table']}, uplink "
                  f"{scale_out['uplink'] or 'none'} ({'up' if scale_out['uplink_up'] else 'down'})"]
        for vip, state in scale_out["vips"].items():
            route = "in the table" if state["announced"] else "withdrawn"
            lines.append(f"  {vip:<18} {state['phase']:<10} route {route}, metric "
                         f"{state['metric']}, fit {state['fit']}")
    process = dump.get("process")
    if process:
        rss = process.get("rss_bytes")
        memory = f"RSS {rss / 2**20:.1f} MiB" if rss else "RSS unknown"
        lines += [
            "",
            f"Process: {process.get('open_fds')} fds, {process.get('os_threads')} threads, "
            + memory,
            f"  trio tasks         main loop {process.get('main_loop_tasks')}, "
            f"VRRP loop {process.get('vrrp_loop_tasks')}",
        ]
    return "\n".join(lines) + "\n"


def write_dump(state_dir: str | os.PathLike, dump: dict[str, Any]) -> Path:
    directory = Path(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    _write_atomically(directory / TEXT_NAME, render_text(dump))
    json_path = directory / JSON_NAME
    _write_atomically(json_path, json.dumps(dump, indent=2, sort_keys=True) + "\n")
    return json_path


def write_stats(state_dir: str | os.PathLike, text: str) -> Path:
    directory = Path(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / STATS_NAME
    _write_atomically(path, text)
    return path


def read_dump(state_dir: str | os.PathLike) -> dict[str, Any]:
    return json.loads((Path(state_dir) / JSON_NAME).read_text())


class DumpError(RuntimeError):
    pass


def request_dump(state_dir: str | os.PathLike, pid_file: str | os.PathLike,
                 timeout: float = 5.0) -> dict[str, Any]:
    """`haipvs dump`: SIGUSR1 to the daemon named by the pid file, then the first haipvs.json
    generated after the signal (polled until `timeout`)."""
    import signal
    import time

    try:
        pid = int(Path(pid_file).read_text().split()[0])
    except (OSError, ValueError, IndexError) as exc:
        raise DumpError(f"cannot read a pid from {pid_file}: {exc}") from exc
    asked_at = time.time()
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError as exc:
        raise DumpError(f"no process {pid} (from {pid_file}): is haipvs running?") from exc
    except PermissionError as exc:
        raise DumpError(f"not allowed to signal process {pid}: run as root") from exc
    deadline = time.monotonic() + timeout
    while True:
        try:
            dump = read_dump(state_dir)
            # A dump written by this request, not an older one.
            if dump.get("pid") == pid and dump.get("generated_at", 0) >= asked_at - 0.01:
                return dump
        except (OSError, ValueError):
            pass  # not written yet
        if time.monotonic() >= deadline:
            raise DumpError(f"no fresh {Path(state_dir) / JSON_NAME} from process {pid} "
                            f"within {timeout:g}s")
        time.sleep(0.02)
