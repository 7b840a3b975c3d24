"""A tiny HTTP server for a lab real server: every page names the server
(`python -m haipvs.lab.httpserver --name rs1`). It exits by itself after --max-seconds."""

from __future__ import annotations

import argparse
import http.server
import threading


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--address", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--max-seconds", type=float, default=4 * 3600)
    parser.add_argument("--tell-peer", action="store_true",
                        help="answer '<name> via <client address>': behind the bgp lab's "
                        "masquerading stand-in that address names the director")
    args = parser.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        # Keep-alive (a client's "Connection: close" still closes): the bgp lab's flows are
        # long-lived connections, so a flow that moves to another director is visible.
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            text = f"{args.name} via {self.client_address[0]}" if args.tell_peer else args.name
            body = f"{text}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the client's log is the lab's record of requests

    server = http.server.ThreadingHTTPServer((args.address, args.port), Handler)
    server.daemon_threads = True
    threading.Timer(args.max_seconds, server.shutdown).start()
    server.serve_forever(poll_interval=0.5)


if __name__ == "__main__":
    main()
