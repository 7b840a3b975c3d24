"""Reading one HTTP_GET response, sans I/O: bytes in, (status, body) or a failure out.

The batched HTTP_GET driver (haipvs/health/httpbatch.py) feeds it what it receives. The
verdicts are the ones h11 gives in haipvs/health/http.py's `_exchange` (the semantics the
probe tests pin): a Content-Length body ends after that many bytes, a body without
Content-Length or Transfer-Encoding ends at EOF, and EOF before a status line is
"connection closed before response". keepalived 2.2.7 check/check_http.c http_read_thread
likewise reads until the end and judges the status line and the body it got.

Why not h11 for every response: parsing a small complete response with h11 costs ~40 µs of
CPU, as much as the rest of a check. The fast path here handles the plain case (a
well-formed status line, token headers, 2xx-5xx with Content-Length or read-until-close).
Anything else (chunked, 1xx/204/304, a malformed or oversized head, a body cut short) is
replayed into h11 from the first byte, so h11 decides exactly as before.
"""

from __future__ import annotations

import re

# h11's own limit on an incomplete head (h11.Connection max_incomplete_event_size).
MAX_HEAD = 16 * 1024
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-9][0-9]{2})(?: [\t\x20-\x7e]*)?")
_HEADER = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\x21-\x7e](?:[\t\x20-\x7e]*"
                     rb"[\x21-\x7e])?)?[ \t]*")
_NO_BODY_STATUS = frozenset({204, 304})


class ResponseReader:
    """One response. Call `feed(data)` per received chunk and `feed_eof()` at EOF; each
    returns True once the response is judged: then `failure` is the reason it failed, or
    None with `status` and `body` set."""

    __slots__ = ("_buf", "_h11", "_length", "_max_body", "_path", "_start", "body", "failure",
                 "status")

    def __init__(self, max_body: int, path: str = "/") -> None:
        self._buf = bytearray()
        self._max_body = max_body
        self._path = path
        self._start = -1  # offset of the body in _buf once the head is parsed
        self._length = -1  # Content-Length, -1 = until EOF
        self._h11: _H11Replay | None = None
        self.status = 0
        self.body = b""
        self.failure: str | None = None

    def feed(self, data: bytes) -> bool:
        if self._h11 is not None:
            return self._h11.feed(data)
        buf = self._buf
        buf += data
        if self._start < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD or b"\n\n" in buf:  # h11's limit, a bare-LF head
                    return self._replay()
                return False
            if not self._head(bytes(buf[:end])):
                return self._replay()
            self._start = end + 4
        received = len(buf) - self._start
        if self._length >= 0 and received >= self._length:
            self.body = bytes(buf[self._start:self._start + self._length])
            return True
        if received > self._max_body:
            self.failure = f"body larger than {self._max_body} bytes"
            return True
        return False

    def feed_eof(self) -> bool:
        if self._h11 is not None:
            return self._h11.feed(b"")
        if self._start < 0 and not self._buf:
            self.failure = "connection closed before response"
            return True
        if self._start < 0 or self._length >= 0:
            # A head the fast path did not find (h11 also takes bare-LF heads), or a body
            # cut short: h11 judges it, and words the error.
            return self._replay() or self._h11_eof()
        self.body = bytes(self._buf[self._start:])
        return True

    def _h11_eof(self) -> bool:
        assert self._h11 is not None
        return self._h11.feed(b"")

    def _head(self, head: bytes) -> bool:
        lines = head.split(b"\r\n")
        match = _STATUS_LINE.fullmatch(lines[0])
        if match is None:
            return False
        status = int(match.group(1))
        if status < 200 or status in _NO_BODY_STATUS:
            return False
        length = -1
        for line in lines[1:]:
            header = _HEADER.fullmatch(line)
            if header is None:
                return False
            name = header.group(1).lower()
            if name == b"content-length":
                value = header.group(2) or b""
                if length >= 0 or not value.isdigit():
                    return False
                length = int(value)
            elif name == b"transfer-encoding":
                return False
        self.status = status
        self._length = length
        return True

    def _replay(self) -> bool:
        self._h11 = _H11Replay(self, self._path)
        return self._h11.feed(bytes(self._buf), first=True)


class _H11Replay:
    """The slow path: h11 over every byte received, as http.py's `_exchange` drives it."""

    __slots__ = ("_body", "_parser", "_reader")

    def __init__(self, reader: ResponseReader, path: str) -> None:
        import h11  # only for the unusual responses

        self._reader = reader
        self._body = bytearray()
        parser = h11.Connection(h11.CLIENT)
        # Move h11's client state past the request the driver wrote itself.
        parser.send(h11.Request(method="GET", target=path, headers=[("Host", "x")]))
        parser.send(h11.EndOfMessage())
        self._parser = parser

    def feed(self, data: bytes, first: bool = False) -> bool:
        import h11

        reader = self._reader
        if first:
            reader.status = 0
        elif not data and reader.status == 0:
            reader.failure = "connection closed before response"
            return True
        self._parser.receive_data(data)
        while True:
            try:
                event = self._parser.next_event()
            except h11.RemoteProtocolError as exc:
                reader.failure = f"bad HTTP response: {exc}"
                return True
            if event is h11.NEED_DATA:
                return False
            if isinstance(event, h11.Response):
                reader.status = event.status_code
            elif isinstance(event, h11.Data):
                self._body += event.data
                if len(self._body) > reader._max_body:
                    reader.failure = f"body larger than {reader._max_body} bytes"
                    return True
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                reader.body = bytes(self._body)
                return True
