"""The keepalived.conf reader: tokens, comments, quotes, variables, includes, braces."""

from __future__ import annotations

from pathlib import Path

import pytest

from haipvs.importer.grammar import UnreadableConfig, parse_file, strip_comment, tokenize
from haipvs.importer.notes import CHANGED


def words(line: str) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in tokenize(line, "f", 1)]


def test_braces_split_from_words_and_quotes_keep_spaces():
    assert words('misc_path "/bin/check a b"{x}') == [
        ("word", "misc_path"), ("word", "/bin/check a b"), ("open", "{"), ("word", "x"),
        ("close", "}")]


@pytest.mark.parametrize(("line", "kept"), [
    ("router_id x # comment", "router_id x "),
    ("router_id x ! comment", "router_id x "),
    # lib/parser.c read_line(): any unquoted # or ! starts the comment, even inside a word;
    # a backslash keeps the character, and only double quotes quote.
    ("auth_pass pa#ss", "auth_pass pa"),
    ("auth_pass Test123!", "auth_pass Test123"),
    ("auth_pass pa\\#ss", "auth_pass pa#ss"),
    ("auth_pass 'pa#ss'", "auth_pass 'pa"),
    ('notify "/bin/a #1" # real comment', 'notify "/bin/a #1" '),
    ("! whole line", ""),
])
def test_comments_start_like_keepalived(line: str, kept: str):
    assert strip_comment(line) == kept


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_blocks_nest_and_keep_lines(tmp_path: Path):
    main = write(tmp_path, "k.conf", "a 1\nb {\n  c 2 {\n    d\n  }\n}\n")
    nodes, notes = parse_file(str(main))
    assert notes == []
    assert [(n.keyword, n.values, n.line) for n in nodes] == [("a", ["1"], 1), ("b", [], 2)]
    c = nodes[1].children[0]
    assert (c.keyword, c.values, c.line, c.children[0].keyword, c.children[0].line) == (
        "c", ["2"], 3, "d", 4)


def test_open_brace_on_the_next_line(tmp_path: Path):
    nodes, _ = parse_file(str(write(tmp_path, "k.conf", "b\n\n{\n c\n}\n")))
    assert nodes[0].keyword == "b" and [c.keyword for c in nodes[0].children] == ["c"]


def test_unbalanced_braces_are_reported(tmp_path: Path):
    _, notes = parse_file(str(write(tmp_path, "k.conf", "a {\n b\n")))
    assert [str(n) for n in notes] == [
        f"{tmp_path}/k.conf:1: a: not translated (block is not closed with '}}' before the end)"]
    _, notes = parse_file(str(write(tmp_path, "k2.conf", "a\n}\n")))
    assert [(n.line, n.keyword) for n in notes] == [(2, "}")]


def test_variables_are_substituted(tmp_path: Path):
    main = write(tmp_path, "k.conf", "$IP=192.0.2.1\n$PORT = 80\nvs $IP ${PORT}x $NOPE\n")
    nodes, notes = parse_file(str(main))
    assert nodes[0].values == ["192.0.2.1", "80x", "$NOPE"]
    assert [(n.line, n.keyword) for n in notes] == [(3, "$NOPE")]


def test_conditional_lines_follow_the_config_id(tmp_path: Path):
    main = write(tmp_path, "k.conf", "@a x 1\n@^a x 2\n")
    assert [n.values for n in parse_file(str(main), config_id="a")[0]] == [["1"]]
    assert [n.values for n in parse_file(str(main), config_id="b")[0]] == [["2"]]
    nodes, notes = parse_file(str(main))
    assert nodes == [] and [n.line for n in notes] == [1, 2]


def test_includes_are_relative_sorted_and_keep_their_file_names(tmp_path: Path):
    write(tmp_path, "d/2.inc", "second\n")
    write(tmp_path, "d/1.inc", "first\ninclude ../leaf.part\n")
    write(tmp_path, "leaf.part", "leaf\n")
    main = write(tmp_path, "k.conf", "top\ninclude d/*.inc\nend\n")
    nodes, notes = parse_file(str(main), display="k.conf")
    # Each include is inlined, and says so (the YAML is one file; haipvs has `include:`).
    assert [(n.file, n.line, n.keyword, n.kind) for n in notes] == [
        ("k.conf", 2, "include", CHANGED), ("d/1.inc", 2, "include", CHANGED)]
    assert [(n.keyword, n.file, n.line) for n in nodes] == [
        ("top", "k.conf", 1), ("first", "d/1.inc", 1), ("leaf", "leaf.part", 1),
        ("second", "d/2.inc", 1), ("end", "k.conf", 3)]


def test_include_loops_are_errors(tmp_path: Path):
    write(tmp_path, "b.conf", "include a.conf\n")
    main = write(tmp_path, "a.conf", "include b.conf\n")
    with pytest.raises(UnreadableConfig, match="include loop"):
        parse_file(str(main))
