"""Client flows for the scale-out tests (issue 17): N concurrent keep-alive HTTP/1.1 flows,
each sending short GETs back to back and counting every request that failed; and the
HTTP/1.1 server that answers them. Run as `python -c` programs inside test namespaces.
"""

from __future__ import annotations

import json
import sys

# Keep-alive HTTP/1.1 server on 0.0.0.0:PORT, one thread per connection; "ready" once
# listening.
_HTTP_SERVER = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 256
server = ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler)
print("ready", flush=True)
server.serve_forever()
"""

# N flows, each one keep-alive connection sending a GET every INTERVAL s until STOP_FILE
# exists (or MAX_SECONDS): a failed request (timeout, reset, bad answer) is counted with its
# time and the flow reconnects. At the end one JSON line: ok, failed, failure times.
_CLIENT = r"""
import http.client, json, os, sys, threading, time
host, port, flows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
interval, stop_file, max_seconds = float(sys.argv[4]), sys.argv[5], float(sys.argv[6])
lock = threading.Lock()
ok, failures, connects = [0], [], [0]
deadline = time.monotonic() + max_seconds

def flow():
    conn = None
    while not os.path.exists(stop_file) and time.monotonic() < deadline:
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=2.0)
                with lock:
                    connects[0] += 1
            conn.request("GET", "/")
            response = conn.getresponse()
            if response.read() != b"ok":
                raise ValueError(response.status)
            with lock:
                ok[0] += 1
        except Exception as exc:
            with lock:
                failures.append((time.time(), repr(exc)))
            if conn is not None:
                conn.close()
            conn = None
        time.sleep(interval)

threads = [threading.Thread(target=flow) for _ in range(flows)]
for thread in threads:
    thread.start()
print("started", flush=True)
for thread in threads:
    thread.join()
print(json.dumps({"ok": ok[0], "failed": len(failures), "connects": connects[0],
                  "failures": failures[:20]}), flush=True)
"""


def http_server(port: int = 80) -> list[str]:
    return [sys.executable, "-c", _HTTP_SERVER, str(port)]


def client(host: str, port: int, flows: int, interval: float, stop_file: str,
           max_seconds: float) -> list[str]:
    return [sys.executable, "-c", _CLIENT, host, str(port), str(flows), str(interval),
            stop_file, str(max_seconds)]


def client_result(log_text: str) -> dict:
    """The client's final JSON line (ok, failed, connects, failures)."""
    for line in reversed(log_text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError(f"no result from the client: {log_text[-500:]}")
