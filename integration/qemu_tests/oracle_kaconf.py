"""keepalived.conf text handling for the keepalived oracle (test_keepalived_oracle.py).

Independent of haipvs.importer on purpose: the oracle must not trust the code it checks.
Two jobs:

- `strip_checkers`: remove every checker block so that every real server stays up in both
  daemons. keepalived 2.2.7 adds a real server with no failed checker at start
  (keepalived/check/ipwrapper.c init_service_rs: `!rs->num_failed_checkers` -> ADD_DEST,
  SET_ALIVE; `alpha` only counts through the checkers it sets failed); haipvs counts a
  server no checker reported as up (haipvs/policy/director.py Health). Removed text is
  replaced by nothing but its newlines, so every other byte and every line number stays,
  and the importer's notes on the copy point at the original lines.
- `vs_blocks`: where each top-level `virtual_server` block starts and ends, and what it
  names, to find the block a differing IPVS service comes from.

Tokens follow keepalived's reader (keepalived/core/parser.c alloc_strvec_quoted_escaped):
whitespace separates words, `{` and `}` are words of their own, a word starting with `!` or
`#` starts a comment to the end of the line, and a double-quoted string is one word.
"""

from __future__ import annotations

import ipaddress
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# keepalived/check/check_*.c install_*_check_keyword (2.2.7), plus BFD_CHECK (check_bfd.c).
CHECKERS = frozenset({
    "TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK", "SMTP_CHECK", "DNS_CHECK",
    "UDP_CHECK", "PING_CHECK", "FILE_CHECK", "BFD_CHECK",
})


@dataclass(frozen=True)
class Word:
    text: str
    start: int  # offset in the text
    end: int
    line: int  # 1-based


def words(text: str) -> Iterator[Word]:
    i, n, line = 0, len(text), 1
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
        elif ch.isspace():
            i += 1
        elif ch in "!#":
            while i < n and text[i] != "\n":
                i += 1
        elif ch in "{}":
            yield Word(ch, i, i + 1, line)
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in "{}":
                if text[i] == '"':
                    i += 1
                    while i < n and text[i] not in '"\n':
                        i += 2 if text[i] == "\\" else 1
                i += 1
            yield Word(text[start:min(i, n)], start, min(i, n), line)


def _block_end(tokens: list[Word], open_index: int) -> int:
    """Index of the `}` closing the `{` at open_index (the last token if it never closes,
    as keepalived reads to the end of the file then)."""
    depth = 0
    for j in range(open_index, len(tokens)):
        if tokens[j].text == "{":
            depth += 1
        elif tokens[j].text == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(tokens) - 1


def strip_checkers(text: str) -> str:
    tokens = list(words(text))
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.text in CHECKERS and i + 1 < len(tokens) and tokens[i + 1].text == "{":
            end = _block_end(tokens, i + 1)
            spans.append((tok.start, tokens[end].end))
            i = end + 1
        else:
            i += 1
    out, pos = [], 0
    for start, end in spans:
        out.append(text[pos:start])
        out.append("\n" * text.count("\n", start, end))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def copy_stripped(src_dir: Path, dst_dir: Path) -> None:
    """A checker-free copy of a whole corpus tree, so relative includes still resolve."""
    for path in sorted(src_dir.rglob("*")):
        target = dst_dir / path.relative_to(src_dir)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError:
            continue
        if path.suffix != ".md":  # configs and include fragments, whatever their names
            text = strip_checkers(text)
            target.write_text(text, encoding="utf-8", errors="surrogateescape", newline="")
        else:
            shutil.copyfile(path, target)


@dataclass(frozen=True)
class VsBlock:
    file: str
    first: int  # line of `virtual_server`
    last: int  # line of its closing brace
    args: tuple[str, ...]  # e.g. ("192.0.2.1", "80"), ("fwmark", "5"), ("group", "G")

    def matches(self, service: ServiceId) -> bool:
        if service.fwmark is not None:
            return self.args[:2] == ("fwmark", str(service.fwmark))
        if not self.args or self.args[0] in ("fwmark", "group"):
            return False
        address, port = self.args[0], self.args[1] if len(self.args) > 1 else "0"
        if address.startswith("[") and "]" in address:  # [addr]:port or [addr] port
            inner, _, rest = address[1:].partition("]")
            address, port = inner, rest.lstrip(":") or port
        try:
            same = ipaddress.ip_address(address) == ipaddress.ip_address(service.address)
        except ValueError:
            return False
        return same and port.isdigit() and int(port) == service.port


@dataclass(frozen=True)
class ServiceId:
    """An `ipvsadm -Ln` service line's address part, without the protocol (a protocol
    difference must still find its block)."""

    address: str = ""
    port: int = 0
    fwmark: int | None = None

    @classmethod
    def parse(cls, prot: str, where: str) -> ServiceId:
        if prot == "FWM":
            return cls(fwmark=int(where))
        address, _, port = where.rpartition(":")
        return cls(address=address.strip("[]"), port=int(port))


def vs_blocks(path: Path) -> list[VsBlock]:
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    tokens = list(words(text))
    blocks, depth, i = [], 0, 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.text == "{":
            depth += 1
        elif tok.text == "}":
            depth = max(depth - 1, 0)
        elif depth == 0 and tok.text == "virtual_server":
            j = i + 1
            args = []
            while j < len(tokens) and tokens[j].text not in "{}":
                args.append(tokens[j].text)
                j += 1
            if j < len(tokens) and tokens[j].text == "{":
                end = _block_end(tokens, j)
                blocks.append(VsBlock(str(path), tok.line, tokens[end].line, tuple(args)))
                i = end + 1
                continue
        i += 1
    return blocks
