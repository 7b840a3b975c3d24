"""`haipvs genhash URL` prints keepalived genhash's MD5SUM line for a real local server."""

from __future__ import annotations

import hashlib
import http.server
import threading

import pytest

from haipvs import cli

BODY = b"<h1>web01</h1>\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_genhash_prints_md5_of_body(web_server, capsys):
    assert cli.main(["genhash", web_server]) == 0
    assert capsys.readouterr().out.strip() == f"MD5SUM = {hashlib.md5(BODY).hexdigest()}"


def test_genhash_unreachable_names_url_and_reason(capsys):
    assert cli.main(["genhash", "http://127.0.0.1:1/"]) == 1
    err = capsys.readouterr().err
    assert "http://127.0.0.1:1/" in err and "refused" in err
