"""The bgp lab's client: --flows concurrent flows to the VIP, each one long-lived HTTP/1.1
connection sending a GET every --interval seconds, reconnecting (a new source port, so a new
ECMP hash) after an error. One line per request in --log:

    <unix time> <flow> <connection number> ok <body>
    <unix time> <flow> <connection number> error <reason>

A flow keeps its connection, so it keeps its director until the router moves it: the lab
reads from the bodies ("rs1 via <director>") which director served each request and counts
the flows that moved or failed. Bounded by --max-seconds.
"""

from __future__ import annotations

import argparse
import http.client
import threading
import time


def flow(number: int, args: argparse.Namespace, log, lock: threading.Lock,
         deadline: float) -> None:
    conn: http.client.HTTPConnection | None = None
    connections = 0
    while time.monotonic() < deadline:
        started = time.time()
        try:
            if conn is None:
                connections += 1
                conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
                conn.connect()
            conn.request("GET", "/")
            response = conn.getresponse()
            body = response.read(200).decode(errors="replace").strip()
            result = f"ok {body}" if response.status == 200 else f"error HTTP {response.status}"
        except (OSError, http.client.HTTPException) as exc:
            result = f"error {type(exc).__name__}"
            if conn is not None:
                conn.close()
            conn = None
        with lock:
            log.write(f"{started:.3f} {number} {connections} {result}\n")
        time.sleep(max(0.0, args.interval - (time.time() - started)))
    if conn is not None:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--log", required=True)
    parser.add_argument("--flows", type=int, default=24)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--timeout", type=float, default=0.5)
    parser.add_argument("--max-seconds", type=float, default=4 * 3600)
    args = parser.parse_args()
    deadline = time.monotonic() + args.max_seconds
    lock = threading.Lock()
    with open(args.log, "a", buffering=1) as log:
        threads = [threading.Thread(target=flow, args=(n, args, log, lock, deadline), daemon=True)
                   for n in range(1, args.flows + 1)]
        for thread in threads:
            thread.start()
            time.sleep(args.interval / args.flows)  # spread the requests over the interval
        for thread in threads:
            thread.join()


if __name__ == "__main__":
    main()
