"""FILE_CHECK (keepalived 2.2.7 check_file.c) through the importer: the named track_file's
path; the checker's `weight W [reverse]`, else the track_file's weight (file_end_handler);
an unknown track_file or none drops the checker, as keepalived does; no checker defaults of
the real server or service (FILE_CHECK takes none)."""

from __future__ import annotations

from pathlib import Path

from haipvs.config import load_config_text
from haipvs.importer import import_keepalived

CORPUS = Path(__file__).parent / "corpus" / "23-file-check.conf"


def test_file_check_takes_the_track_files_path_and_weight() -> None:
    result = import_keepalived(CORPUS)
    config = load_config_text(result.yaml)
    first, second = config.virtual_servers[0].real_servers
    (check,) = first.checkers
    assert (check.kind, check.file, check.weight, check.reverse, check.retry) == (
        "file_check", "/run/lb/weight", 3, False, 0)  # the service's retry 2 not applied
    own, default = second.checkers  # the one with an unknown track_file is dropped
    assert (own.weight, own.reverse) == (-2, True)
    assert (default.weight, default.reverse) == (3, False)  # a bad weight line is ignored


def test_dropped_statements_are_noted_with_keepalived_s_messages() -> None:
    notes = {(n.line, n.keyword) for n in import_keepalived(CORPUS).notes if n.dropped}
    assert notes == {(23, "FILE_CHECK"), (24, "track_file"), (28, "weight")}
