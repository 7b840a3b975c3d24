"""keepalived.conf grammar: a tokenizer and a recursive block parser.

keepalived reads its file line by line: each statement is a keyword and its arguments on one
line, and `{ ... }` opens a block of statements (the `{` may also start the next line). This
module reproduces what its reader does before any keyword is interpreted:

- comments start at any `#` or `!` outside double quotes and run to the end of the line;
- `"quoted strings"` are one word (the quotes are removed);
- `$NAME=value` defines a variable; `$NAME` and `${NAME}` are replaced in later lines, and
  keepalived's built-in definitions `_PWD`, `_INSTANCE`, `_RANDOM`, `_HASH` and `_BANG`
  (lib/parser.c set_std_definitions()) are defined as keepalived defines them;
- `@ID line` / `@^ID line` keep the line only when the config id is (is not) ID;
- `include PATTERN` reads the files matching the glob, relative to the including file's
  directory, in sorted order, in place.

Every token keeps its file and line so the translator can say where a keyword came from.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from dataclasses import field

from haipvs.dataclass_lean import dataclass
from haipvs.importer.notes import CHANGED, NOT_TRANSLATED, Note

WORD, OPEN, CLOSE, EOL = "word", "open", "close", "eol"
# keepalived splits words at spaces and tabs only (lib/parser.c alloc_strvec_r(),
# WHITE_SPACE): a non-breaking space is part of a word; \r is what a CRLF line leaves.
BLANKS = " \t\r\n\f\v"
MAX_INCLUDE_DEPTH = 16
MAX_FILE_BYTES = 16 * 1024 * 1024

_VAR_DEF = re.compile(r"\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
# lib/parser.c find_definition(): `${NAME}` or `${NAME PARAMS}` (digits and spaces, for
# _RANDOM), or `$NAME` followed by a space, tab, ',', ')' or the end of the line.
_VAR_USE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)((?: +[0-9]+)*)\}"
                      r"|\$([A-Za-z_][A-Za-z0-9_]*)(?=[ \t,)]|$)")
# keepalived's _RANDOM range without parameters (lib/parser.c get_random()).
RANDOM_DEFAULT = (0, 32767)
_CONDITIONAL = re.compile(r"\s*@(\^?)(\S+)\s+(.*)$")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    file: str
    line: int
    quoted: bool = False


@dataclass
class Node:
    """One statement: `keyword arg...`, with `children` when it opened a block."""

    keyword: str
    args: list[Token]
    children: list[Node] | None
    file: str
    line: int

    @property
    def values(self) -> list[str]:
        return [t.text for t in self.args]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Reader:
    """Turns a file (and what it includes) into one token stream."""

    config_id: str | None = None
    notes: list[Note] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    _open_files: list[str] = field(default_factory=list)

    def read(self, path: str, display: str | None = None) -> list[Token]:
        tokens: list[Token] = []
        self._read_file(path, display or path, tokens, 0)
        return tokens

    def _note(self, file: str, line: int, keyword: str, why: str,
              kind: str = NOT_TRANSLATED) -> None:
        self.notes.append(Note(file, line, keyword, why, kind))

    def _read_file(self, path: str, display: str, out: list[Token], depth: int) -> None:
        real = os.path.realpath(path)
        if real in self._open_files:
            raise UnreadableConfig(f"{display}: include loop ({' -> '.join(self._open_files)})")
        with open(path, "rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise UnreadableConfig(f"{display}: file is larger than 16 MiB")
        text = data.decode("utf-8", errors="replace")
        self._open_files.append(real)
        try:
            for number, raw in enumerate(text.splitlines(), start=1):
                self._read_line(raw, path, display, number, out, depth)
        finally:
            self._open_files.pop()

    def _read_line(self, raw: str, path: str, display: str, number: int,
                   out: list[Token], depth: int) -> None:
        line = self._conditional(raw, display, number)
        if line is None:
            return
        definition = _VAR_DEF.match(line)
        if definition:
            name, value = definition.groups()
            self.variables[name] = self._substitute(strip_comment(value), display, number,
                                                    path)
            return
        line = self._substitute(strip_comment(line), display, number, path)
        words = list(tokenize(line, display, number))
        if words and words[0].kind == WORD and words[0].text == "include" and not words[0].quoted:
            self._include(words, path, display, number, out, depth)
            return
        out.extend(words)
        out.append(Token(EOL, "", display, number))

    def _conditional(self, raw: str, display: str, number: int) -> str | None:
        match = _CONDITIONAL.match(raw)
        if not match:
            return raw
        negate, wanted, rest = match.groups()
        if self.config_id is None:
            self._note(display, number, f"@{negate}{wanted}",
                       "line is conditional on the config id; pass --config-id to choose")
            return None
        keep = (self.config_id == wanted) != bool(negate)
        return rest if keep else None

    def _substitute(self, line: str, display: str, number: int, path: str = "") -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(3)
            params = (match.group(2) or "").split()
            if name in self.variables and not params:
                return self.variables[name]
            builtin = self._builtin(name, params, path, display, number)
            if builtin is not None:
                return builtin
            self._note(display, number, f"${name}", "undefined variable; left as written" + (
                ", and its braces then open and close a block, as keepalived reads them "
                "(lib/parser.c read_line())" if match.group(1) else ""))
            return match.group(0)

        return _VAR_USE.sub(replace, line) if "$" in line else line

    def _builtin(self, name: str, params: list[str], path: str, display: str,
                 number: int) -> str | None:
        """keepalived's standard definitions (lib/parser.c set_std_definitions()); a user
        definition of the same name comes first, as in find_definition()."""
        if params and name != "_RANDOM":
            return None  # only _RANDOM takes parameters (max_params)
        if name == "_HASH":
            return "#"
        if name == "_BANG":
            return "!"
        if name == "_PWD":
            # get_cwd(): keepalived chdir()s to the directory of each file it reads whose
            # name has a '/' (lib/parser.c open_conf_file()), so this is the file's directory.
            directory = os.path.dirname(os.path.realpath(path)) if path else os.getcwd()
            self._note(display, number, "${_PWD}", f"the directory of this file here, "
                       f"{directory}; keepalived uses the directory it reads the file from",
                       CHANGED)
            return directory
        if name == "_INSTANCE":
            # get_instance(): the config id, -i, which defaults to the short host name
            # (core/main.c).
            if self.config_id is not None:
                return self.config_id
            host = os.uname().nodename.split(".")[0]
            self._note(display, number, "${_INSTANCE}", f"keepalived's config id: -i, or the "
                       f"short host name of the director; used this machine's, {host!r} "
                       "(pass --config-id to choose)", CHANGED)
            return host
        if name == "_RANDOM":
            low, high = RANDOM_DEFAULT
            try:
                if params:
                    low = int(params[0])
                if len(params) > 1:
                    high = int(params[1])
            except ValueError:
                return None
            self._note(display, number, "${_RANDOM}", f"keepalived picks a random number in "
                       f"{low}..{high} each time it reads the line; the translation uses "
                       f"{low}", CHANGED)
            return str(low)
        return None

    def _include(self, words: list[Token], path: str, display: str, number: int,
                 out: list[Token], depth: int) -> None:
        if len(words) < 2:
            self._note(display, number, "include", "no file named")
            return
        if depth >= MAX_INCLUDE_DEPTH:
            raise UnreadableConfig(f"{display}:{number}: includes nested deeper than "
                               f"{MAX_INCLUDE_DEPTH}")
        for word in words[1:]:
            pattern = word.text
            base, shown_base = os.path.dirname(path), os.path.dirname(display)
            full = pattern if os.path.isabs(pattern) else os.path.join(base, pattern)
            matches = sorted(glob.glob(full))
            if not matches:
                self._note(display, number, "include", f"no file matches {pattern}")
            elif any(not os.path.isdir(match) for match in matches):
                # haipvs YAML has `include:` too (haipvs/config/include.py), but the
                # translation is one document: the operator re-splits it if wanted.
                self._note(display, number, "include", f"the files of {pattern} are inlined "
                           "into the one YAML file; split it again with `include:` (globs, "
                           "lists merged) if you keep a conf.d", CHANGED)
            for match in matches:
                if os.path.isdir(match):
                    continue
                shown = match if os.path.isabs(pattern) else os.path.normpath(os.path.join(
                    shown_base, os.path.relpath(match, base) if base else match))
                self._read_file(match, shown, out, depth + 1)


class UnreadableConfig(Exception):
    """The file cannot be read as a keepalived configuration at all."""


def strip_comment(line: str) -> str:
    """Cut the comment as keepalived does (lib/parser.c read_line()): an unquoted `#` or `!`
    anywhere ends the line (`Test123!` is `Test123`); `\\#` and `\\!` stand for the character;
    only double quotes quote."""
    out: list[str] = []
    quote = False
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\" and i + 1 < len(line):
            out.append(line[i + 1] if not quote and line[i + 1] in "#!" else line[i:i + 2])
            i += 2
            continue
        if char == '"':
            quote = not quote
        elif char in "#!" and not quote:
            break
        out.append(char)
        i += 1
    return "".join(out)


def tokenize(line: str, file: str, number: int) -> Iterator[Token]:
    i, n = 0, len(line)
    while i < n:
        char = line[i]
        if char in BLANKS:
            i += 1
        elif char == "{":
            yield Token(OPEN, "{", file, number)
            i += 1
        elif char == "}":
            yield Token(CLOSE, "}", file, number)
            i += 1
        elif char in "\"'":
            end = line.find(char, i + 1)
            if end < 0:  # keepalived takes an unterminated quote to the end of the line
                end = n
            yield Token(WORD, line[i + 1:end], file, number, quoted=True)
            i = end + 1
        else:
            start = i
            while i < n and line[i] not in BLANKS and line[i] not in "{}":
                i += 1
            yield Token(WORD, line[start:i], file, number)


class Parser:
    """Statements and blocks from the token stream; brace errors become notes."""

    def __init__(self, tokens: list[Token], notes: list[Note]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.notes = notes

    def _peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _next_significant(self) -> Token | None:
        """The next token that is not an end of line (without consuming anything)."""
        for token in self.tokens[self.pos:]:
            if token.kind != EOL:
                return token
        return None

    def parse(self) -> list[Node]:
        return self._block(None)

    def _block(self, opener: Node | None) -> list[Node]:
        nodes: list[Node] = []
        while True:
            token = self._peek()
            if token is None:
                if opener is not None:
                    self.notes.append(Note(opener.file, opener.line, opener.keyword,
                                           "block is not closed with '}' before the end"))
                return nodes
            if token.kind == EOL:
                self.pos += 1
            elif token.kind == CLOSE:
                self.pos += 1
                if opener is not None:
                    return nodes
                self.notes.append(Note(token.file, token.line, "}", "'}' closes no block"))
            elif token.kind == OPEN:
                # A block with no keyword: parse it so its braces balance, then drop it.
                self.pos += 1
                orphan = Node("{", [], None, token.file, token.line)
                self._block(orphan)
                self.notes.append(Note(token.file, token.line, "{", "block without a keyword"))
            else:
                nodes.append(self._statement())

    def _statement(self) -> Node:
        keyword = self.tokens[self.pos]
        self.pos += 1
        args: list[Token] = []
        while True:
            token = self._peek()
            if token is None or token.kind == CLOSE:
                return Node(keyword.text, args, None, keyword.file, keyword.line)
            if token.kind == EOL:
                following = self._next_significant()
                if following is None or following.kind != OPEN:
                    self.pos += 1
                    return Node(keyword.text, args, None, keyword.file, keyword.line)
                while self._peek() is not None and self._peek().kind == EOL:
                    self.pos += 1
                continue  # `keyword` on one line, `{` on the next
            if token.kind == OPEN:
                self.pos += 1
                node = Node(keyword.text, args, [], keyword.file, keyword.line)
                node.children = self._block(node)
                return node
            args.append(token)
            self.pos += 1


def parse_file(path: str, display: str | None = None, config_id: str | None = None,
               ) -> tuple[list[Node], list[Note]]:
    """Parse `path` (and its includes): the top-level statements, and the reader's notes."""
    reader = Reader(config_id=config_id)
    tokens = reader.read(path, display)
    notes = reader.notes
    return Parser(tokens, notes).parse(), notes
