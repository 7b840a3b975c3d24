"""Fuzz target: the config loader on mutated YAML text.

Inputs are the committed corpus (`corpus/config/*.yaml`: conf/ examples and the importer's
translations of tests/importer/corpus, comments stripped) mutated by op lists working on
lines and tokens (delete / duplicate / swap / re-indent lines, replace a value or a key,
insert YAML syntax such as anchors, tags and flow collections, raw byte damage). Oracle:
`load_config_text` returns a Config or raises ConfigError whose issues name the file, a
line inside it (or none) and a message; any other exception is a bug.

    .venv/bin/python -m tests.fuzz.config_target --count 200000 --seed 7
    .venv/bin/python -m tests.fuzz.config_target --atheris        # coverage-guided, if installed
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from haipvs.config import Config, ConfigError, load_config_text
from tests.fuzz.mutate import BYTE_OPS, Op, apply_byte_op, random_ops

CORPUS = Path(__file__).parent / "corpus" / "config"
FILENAME = "fuzz.yaml"

TOKENS = (
    "", "~", "null", "-1", "0", "1", "255", "256", "65536", "4294967296", "1e309", "-.inf",
    ".nan", "0x1f", "0o17", "1_000", "yes", "no", "on", "off", "true", "[]", "{}", "[1, [2]]",
    "{a: 1}", "&anchor x", "*anchor", "*undefined", "!!binary AAAA", "!!python/object:os.system",
    "!!set {a}", "!!int 'x'", "!!float", "!!timestamp x", "!!bool maybe", "!!map",
    "? complex", "'quoted'", '"\\x00\\u2028"',
    "192.0.2.1", "192.0.2.1/33", "192.0.2.300", "2001:db8::1/129", "::", "0.0.0.0", "eth0:1",
    "a" * 300, "ünïcode", "\t", "- ", ": ", "#", "|", ">-", "'unterminated", '"unterminated',
    "{unterminated", "[unterminated", "%YAML 1.1", "---", "...", "<<: {priority: 1}",
    "TCP", "UDP", "SCTP", "wrr", "rr", "NAT", "DR", "TUN", "PASS", "AH", "MASTER", "BACKUP",
)

# Text ops, after the generic byte ops (which work on the UTF-8 encoding).
(DELETE_LINE, DUPLICATE_LINE, SWAP_LINES, INDENT, DEDENT, REPLACE_VALUE, REPLACE_KEY,
 INSERT_TOKEN, SPLICE_LINE, TRUNCATE_LINES) = range(BYTE_OPS, BYTE_OPS + 10)
OP_KINDS = BYTE_OPS + 10


# Crashes found by this fuzzer and not fixed yet (each with a strict-xfail regression test in
# tests/fuzz/test_fuzz_config.py). Fixed so far: "pyyaml-constructor" (an explicitly tagged
# scalar PyYAML cannot convert, `!!int x`, raised ValueError & co. past the loader).
KNOWN_CRASHES: frozenset[str] = frozenset()
# YAML breaks lines at these too, so its line numbers count them.
LINE_BREAKS = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


@dataclass(frozen=True)
class Entry:
    name: str
    text: str


def load_corpus(directory: Path = CORPUS) -> list[Entry]:
    entries = [Entry(p.name, p.read_text()) for p in sorted(directory.glob("*.yaml"))]
    if not entries:
        raise FileNotFoundError(f"no config corpus in {directory}")
    return entries


def _replace_value(line: str, token: str) -> str:
    key, sep, _value = line.partition(": ")
    if sep:
        return f"{key}: {token}"
    stripped = line.lstrip()
    if stripped.startswith("- "):
        return line[: len(line) - len(stripped)] + "- " + token
    return line + token


def _replace_key(line: str, token: str) -> str:
    indent = line[: len(line) - len(line.lstrip())]
    body = line.lstrip()
    prefix = "- " if body.startswith("- ") else ""
    body = body[len(prefix):]
    _key, sep, value = body.partition(":")
    return f"{indent}{prefix}{token or 'x'}{sep or ':'}{value}"


def mutate(entry: Entry, ops: list[Op], corpus: list[Entry]) -> str:
    text = entry.text
    for op in ops:
        kind, pos, arg = op
        kind %= OP_KINDS
        if kind < BYTE_OPS:
            text = apply_byte_op(text.encode(), op).decode("utf-8", "replace")
            continue
        lines = text.split("\n")
        at = pos % len(lines)
        token = TOKENS[arg % len(TOKENS)]
        if kind == DELETE_LINE:
            del lines[at]
        elif kind == DUPLICATE_LINE:
            lines.insert(at, lines[at])
        elif kind == SWAP_LINES:
            other = arg % len(lines)
            lines[at], lines[other] = lines[other], lines[at]
        elif kind == INDENT:
            lines[at] = " " * (1 + arg % 4) + lines[at]
        elif kind == DEDENT:
            lines[at] = lines[at][1 + arg % 4:] if lines[at].startswith(" ") else lines[at]
        elif kind == REPLACE_VALUE:
            lines[at] = _replace_value(lines[at], token)
        elif kind == REPLACE_KEY:
            lines[at] = _replace_key(lines[at], token)
        elif kind == INSERT_TOKEN:
            column = arg % (len(lines[at]) + 1)
            lines[at] = lines[at][:column] + token + lines[at][column:]
        elif kind == SPLICE_LINE:
            donor = corpus[arg % len(corpus)].text.split("\n")
            lines.insert(at, donor[pos % len(donor)])
        elif kind == TRUNCATE_LINES:
            del lines[at + 1:]
        text = "\n".join(lines)
    return text


def check(text: str) -> str:
    """'valid' or 'rejected'; raises AssertionError for any other outcome."""
    line_count = len(LINE_BREAKS.split(text)) + 1
    try:
        result = load_config_text(text, FILENAME)
    except ConfigError as exc:
        if not exc.issues:
            raise AssertionError("ConfigError without issues") from exc
        for issue in exc.issues:
            if issue.file != FILENAME or not issue.message:
                raise AssertionError(f"badly located issue {issue!r}") from exc
            if issue.line is not None and not 1 <= issue.line <= line_count:
                raise AssertionError(f"issue outside the file: {issue!r}") from exc
        return "rejected"
    if not isinstance(result, Config):
        raise AssertionError(f"loader returned {type(result).__name__}")
    return "valid"


def crash_signature(exc: BaseException) -> str:
    """A name for the bug behind a crash, so many inputs reaching it count as one:
    a known root cause, else the exception type and the innermost function."""
    tb = exc.__traceback__
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame.f_code)
        tb = tb.tb_next
    if any(code.co_filename.endswith("yaml/constructor.py") for code in frames):
        return "pyyaml-constructor"
    where = frames[-1].co_name if frames else "?"
    return f"{type(exc).__name__} in {where}"


def run(count: int, seed: int, corpus: list[Entry] | None = None,
        known: frozenset[str] = frozenset()) -> Counter[str]:
    """`count` mutated inputs. A crash whose signature is in `known` (a reported bug with its
    own regression test) is counted as "crash: <signature>"; any other one raises with the
    corpus entry and op list, which replay it exactly."""
    corpus = corpus or load_corpus()
    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    for _ in range(count):
        entry = corpus[rng.randrange(len(corpus))]
        ops = random_ops(rng, OP_KINDS, max_ops=3)
        text = mutate(entry, ops, corpus)
        try:
            outcomes[check(text)] += 1
        except AssertionError as exc:
            raise AssertionError(f"config fuzz input {entry.name} ops={ops!r}: {exc}") from exc
        except Exception as exc:
            signature = crash_signature(exc)
            if signature not in known:
                raise AssertionError(f"config fuzz input {entry.name} ops={ops!r} crashed the "
                                     f"loader: {signature}: {exc!r}") from exc
            outcomes[f"crash: {signature}"] += 1
    return outcomes


def atheris_main(argv: list[str], known: frozenset[str]) -> None:  # pragma: no cover
    """By hand, needs atheris; crashes in `known` are skipped so the search goes on."""
    import atheris

    corpus = load_corpus()

    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        if fdp.ConsumeBool():
            text = fdp.ConsumeUnicodeNoSurrogates(fdp.remaining_bytes())
        else:
            entry = corpus[fdp.ConsumeIntInRange(0, len(corpus) - 1)]
            ops = [(fdp.ConsumeIntInRange(0, OP_KINDS - 1), fdp.ConsumeUInt(2),
                    fdp.ConsumeUInt(2)) for _ in range(fdp.ConsumeIntInRange(0, 4))]
            text = mutate(entry, ops, corpus)
        try:
            check(text)
        except AssertionError:
            raise
        except Exception as exc:
            if crash_signature(exc) not in known:
                raise

    atheris.instrument_all()  # haipvs and PyYAML are imported already
    atheris.Setup(argv, one)
    atheris.Fuzz()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tolerate-known", action="store_true",
                        help="count the crashes listed in KNOWN_CRASHES instead of stopping")
    parser.add_argument("--atheris", action="store_true",
                        help="coverage-guided with atheris; remaining args go to libFuzzer")
    args, rest = parser.parse_known_args()
    if args.atheris:
        atheris_main([sys.argv[0], *rest],
                     KNOWN_CRASHES if args.tolerate_known else frozenset())
        return
    started = time.perf_counter()
    outcomes = run(args.count, args.seed,
                   known=KNOWN_CRASHES if args.tolerate_known else frozenset())
    elapsed = time.perf_counter() - started
    print(f"{args.count} inputs in {elapsed:.1f} s ({args.count / elapsed:,.0f}/s), seed "
          f"{args.seed}: {dict(outcomes)}")


if __name__ == "__main__":
    main()
