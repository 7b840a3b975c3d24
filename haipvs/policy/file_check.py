"""FILE_CHECK's pure half: a tracked file's number -> the real server's state and weight
(keepalived 2.2.7 check/check_file.c, trackers/track_file.c process_track_file,
update_track_file_status, process_update_checker_track_file_status; include/track_file.h
weight_range).

The rule is track_file's, on the checker side: with weight 0 a non-zero number (with
`reverse`: a zero) is a fault, the server down; otherwise number x weight (x -1 with reverse),
kept within 32 bits, is added to the real server's configured weight, and only a result at
IPVS_WEIGHT_FAULT (INT32_MIN) is a fault. The VRRP side (haipvs/policy/priority.py
file_weighted) has the same weight-0 rule but faults at -254 and has no reverse here, so it is
not reused. The server's weight is clamped to what IPVS takes (0..65535): a weight of 0 keeps
it in the table, quiesced, as keepalived does.
"""

from __future__ import annotations

import re
from dataclasses import field

from haipvs import limits
from haipvs.dataclass_lean import dataclass

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
IPVS_WEIGHT_FAULT = INT32_MIN  # keepalived ip_vs.h: -IPVS_WEIGHT_MAX - 1
READ_SIZE = 127  # process_track_file(): read(fd, buf, sizeof(buf) - 1) with char buf[128]
_STRTOL = re.compile(rb"\s*([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))")


@dataclass(slots=True)
class LastNumber:
    """The number this checker read last: an out-of-range one leaves it standing
    (process_track_file: "Invalid number ... - ignoring"). One per checker, never shared."""

    value: int = 0

    def update(self, number: int | None) -> int:
        if number is not None:
            self.value = number
        return self.value


@dataclass(frozen=True, slots=True)
class FileProbe:
    """keepalived FILE_CHECK: reads `path` each delay_loop; `base_weight` is the real
    server's configured weight, to which number x weight is added."""

    path: str
    weight: int = 1
    reverse: bool = False
    base_weight: int = 1
    # the checker's own memory, outside equality: a reload that keeps the probe compares
    # equal and keeps its checker (and so this) as it is
    last: LastNumber = field(default_factory=LastNumber, compare=False, repr=False)

    kind = "file_check"
    timeout = 1.0  # a read of 127 bytes of a local file


def read_number(data: bytes | None) -> int | None:
    """The number keepalived reads: strtol(buf, NULL, 0) of the first 127 bytes (decimal,
    0x hex, 0 octal; leading blanks; no digits = 0); a missing or empty file is 0 (`data`
    None). None when it is out of range, which keepalived logs and ignores."""
    if not data:
        return 0
    match = _STRTOL.match(data[:READ_SIZE])
    if match is None:
        return 0
    sign, hexa, octal, decimal = match.groups()
    value = int(hexa, 16) if hexa else int(octal, 8) if octal else int(decimal)
    value = -value if sign == b"-" else value
    if value < INT32_MIN or value > INT32_MAX + 1:
        return None
    return value


def weight_range(value: int) -> int:
    return max(INT32_MIN, min(INT32_MAX, value))


@dataclass(frozen=True, slots=True)
class FileVerdict:
    up: bool
    weight: int | None  # the server's weight while up
    reason: str


def file_verdict(number: int, probe: FileProbe) -> FileVerdict:
    """update_track_file_status() + process_update_checker_track_file_status()."""
    if probe.weight == 0:
        fault = number == 0 if probe.reverse else number != 0
        if fault:
            return FileVerdict(False, None, f"{probe.path} holds {number}")
        return FileVerdict(True, None, f"{probe.path} holds {number}")
    status = weight_range(number * probe.weight * (-1 if probe.reverse else 1))
    if status == IPVS_WEIGHT_FAULT:
        return FileVerdict(False, None, f"{probe.path}: {number} x {probe.weight} is a fault")
    weight = max(0, min(limits.WEIGHT_MAX, probe.base_weight + status))
    return FileVerdict(True, weight, f"{probe.path} holds {number}: weight {weight}")
