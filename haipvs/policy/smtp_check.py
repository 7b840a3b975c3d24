"""SMTP_CHECK's dialogue as keepalived 2.2.7 runs it (keepalived/check/check_smtp.c
smtp_engine_thread), sans I/O: feed it the bytes read, it answers with the line to write,
a verdict, or nothing (read more).

The dialogue: read the banner line, which must carry status 220; write `HELO <helo_name>`;
read a line with status 250; write `QUIT`; read one more line (any content) and the check
succeeds. Any other status, or the connection closing before a whole line, fails it.

keepalived's line reading (smtp_get_line / smtp_get_line_cb) is reproduced, quirks included,
because they decide which servers are up:
- each expected line starts from an empty buffer: bytes after the first newline of a read
  are dropped (a multi-line `220-` banner therefore fails: its first line has `220-`);
- the buffer holds SMTP_BUFF_MAX - 1 (511) bytes; full without a newline, it is cleared and
  reading goes on ("wrap the buffer, if full, by clearing it");
- the status is smtp_get_status(): strtoul() must consume exactly three characters, followed
  by a space or the end of the line (the '\\n' is cut, a '\\r' is not: `250\\r\\n` fails).
"""

from __future__ import annotations

import re
from enum import Enum

from haipvs.dataclass_lean import dataclass
from haipvs.limits import SMTP_DEFAULT_HELO  # keepalived check_smtp.h

SMTP_BUFF_MAX = 512  # keepalived check_smtp.h; one byte is kept for the NUL
_STATUS = re.compile(rb"(\d{3})(?: |\Z)")


class Stage(Enum):
    BANNER = "banner"
    HELO = "HELO response"
    QUIT = "QUIT response"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Send:
    """Write these bytes, then feed what the server answers."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Verdict:
    up: bool
    reason: str


Step = Send | Verdict | None


def smtp_status(line: bytes) -> int:
    """keepalived smtp_get_status(): the 3-digit status at the start of `line` (its newline
    removed), or -1 when the line does not start with exactly 3 digits then a space or end.
    strtoul() also skips leading blanks and takes a sign, but then consumes more than three
    characters or reads a number that is no SMTP status, so neither can yield a valid one."""
    line = line.split(b"\0", 1)[0]  # keepalived works on a C string
    match = _STATUS.match(line)
    return int(match.group(1)) if match else -1


class SmtpDialogue:
    """One attempt of the check on one connected socket."""

    def __init__(self, helo_name: str = SMTP_DEFAULT_HELO) -> None:
        self.helo_name = helo_name
        self.stage = Stage.BANNER
        self._buffer = b""

    def feed(self, data: bytes) -> Step:
        """Bytes read from the server (never empty: an empty read is `closed`)."""
        if self.stage is Stage.DONE:
            return None
        line = self._line(data)
        if line is None:
            return None
        self._buffer = b""  # smtp_get_line() clears it before the next line
        return self._on_line(line)

    def closed(self) -> Verdict:
        """The server closed the connection (read returned 0) before a whole line."""
        self.stage = Stage.DONE
        return Verdict(False, "read failure from server (connection closed)")

    def _line(self, data: bytes) -> bytes | None:
        # The C code reads at most 511 - len(buffer) bytes at a time and looks for the
        # first newline in the whole buffer after each read; a full buffer is cleared.
        capacity = SMTP_BUFF_MAX - 1
        while data:
            room = capacity - len(self._buffer)
            self._buffer += data[:room]
            data = data[room:]
            # strchr() stops at a NUL: a newline after one is not seen.
            visible = self._buffer.split(b"\0", 1)[0]
            newline = visible.find(b"\n")
            if newline >= 0:
                return visible[:newline]
            if len(self._buffer) >= capacity:
                self._buffer = b""
        return None

    def _on_line(self, line: bytes) -> Step:
        if self.stage is Stage.BANNER:
            if smtp_status(line) != 220:
                return self._fail("bad greeting banner", line)
            self.stage = Stage.HELO
            return Send(b"HELO " + self.helo_name.encode() + b"\r\n")
        if self.stage is Stage.HELO:
            if smtp_status(line) != 250:
                return self._fail("bad HELO response", line)
            self.stage = Stage.QUIT
            return Send(b"QUIT\r\n")
        # Stage.QUIT: any line ends the check successfully (smtp_final(thread, NULL)).
        self.stage = Stage.DONE
        return Verdict(True, "SMTP dialogue ok")

    def _fail(self, what: str, line: bytes) -> Verdict:
        self.stage = Stage.DONE
        shown = line.rstrip(b"\r")[:80].decode("ascii", "replace")
        return Verdict(False, f"{what} from server: {shown!r}")


# keepalived check_smtp.c smtp_final()'s failure texts, which its e-mail body carries as
# "=> CHECK failed on service : <text> <server> <=" (server: FMT_SMTP_RS, "[addr]:port" of
# the checked address). Matched against the start of haipvs's own reasons (this module's
# Verdicts, haipvs/health/smtp.py's timeouts and socket errors, the checker name cut off).
_KEEPALIVED_FAILURES = (
    ("bad greeting banner", "Bad greeting banner from server"),  # smtp_engine_thread
    ("bad HELO response", "Bad HELO response from server"),
    ("read timeout", "Read timeout from server"),  # smtp_get_line_cb
    ("write timeout", "Write timeout to server"),  # smtp_put_line_cb
    ("timeout after", "Connection timeout to server"),  # smtp_check_thread connect_timeout
    ("read failure", "Read failure from server"),
)


def keepalived_failure_text(reason: str, server: str) -> str | None:
    """smtp_final()'s text for haipvs's SMTP_CHECK `reason` against `server` ("[a]:p"): a
    dialogue failure by its kind, a refused or unreachable connection as keepalived's
    connect_error ("Error connecting to server"), an error within the dialogue as a read
    failure. None for no reason."""
    if not reason:
        return None
    for start, text in _KEEPALIVED_FAILURES:
        if reason.startswith(start):
            return f"{text} {server}"
    stages = tuple(f"({stage.value})" for stage in Stage)
    if reason.endswith(stages):  # a socket error while talking
        return f"Read failure from server {server}"
    return f"Error connecting to server {server}"
