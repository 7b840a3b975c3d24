"""The lab client: GET the VIP every --interval seconds and append one line per attempt to
--log: `<unix time> ok <body>` or `<unix time> error <reason>`. Bounded by --max-seconds."""

from __future__ import annotations

import argparse
import http.client
import time


def fetch(host: str, port: int, timeout: float) -> str:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read(200).decode(errors="replace").strip()
        return f"ok {body}" if response.status == 200 else f"error HTTP {response.status}"
    except OSError as exc:
        return f"error {type(exc).__name__}: {exc}".replace("\n", " ")
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--log", required=True)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--timeout", type=float, default=0.5)
    parser.add_argument("--max-seconds", type=float, default=4 * 3600)
    args = parser.parse_args()
    deadline = time.monotonic() + args.max_seconds
    with open(args.log, "a", buffering=1) as log:
        while time.monotonic() < deadline:
            started = time.time()
            log.write(f"{started:.3f} {fetch(args.host, args.port, args.timeout)}\n")
            time.sleep(max(0.0, args.interval - (time.time() - started)))


if __name__ == "__main__":
    main()
