"""keepalived as the oracle (issue 14, acceptance 5): on every corpus file with a
virtual_server, keepalived 2.2.7 and haipvs program the real kernel IPVS table in turn,
and their `ipvsadm -Ln` must be the same, or the importer must have a note on a line of
that virtual_server block saying what keepalived does.

Files: every *.conf in tests/importer/corpus/ and tests/importer/corpus/real/ (read at run
time, so new files join by themselves) and the probes in oracle_probes/ (the known
differences, so the oracle covers them whatever the corpus holds). Each tree is copied with
its checker blocks removed (oracle_kaconf.strip_checkers; includes resolve in the copy, line
numbers are kept), so every real server is up in both daemons.

Runs only in the qemu guest:

    integration/qemu/run-in-guest -- .venv/bin/python -m pytest -p no:cacheprovider \
        integration/qemu_tests/test_keepalived_oracle.py
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from oracle_compare import differences, explain
from oracle_kaconf import copy_stripped, strip_checkers, words
from oracle_run import clear, haipvs_table, keepalived_table, read_table

from haipvs.importer.grammar import parse_file

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPUS = REPO / "tests" / "importer" / "corpus"
PROBES = HERE / "oracle_probes"
KEEPALIVED = "/usr/sbin/keepalived"


def has_virtual_server(path: Path) -> bool:
    """A top-level virtual_server in the file (our reader) or after the importer resolved
    its includes."""
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    depth = 0
    for word in words(text):
        depth += {"{": 1, "}": -1}.get(word.text, 0)
        if depth == 0 and word.text == "virtual_server":
            return True
    try:
        nodes, _ = parse_file(str(path))
    except Exception:  # unreadable for the importer: our own reader decided above
        return False
    return any(node.keyword == "virtual_server" for node in nodes)


def oracle_files(root: Path) -> list[tuple[str, Path]]:
    """(name as in the repo, checker-free copy) for every main file with a virtual_server.
    Included fragments (corpus/conf.d) are copied but are not main files."""
    copy_stripped(CORPUS, root / "corpus")
    copy_stripped(PROBES, root / "probes")
    found = []
    for src, dst in ((CORPUS, root / "corpus"), (CORPUS / "real", root / "corpus" / "real"),
                     (PROBES, root / "probes")):
        for path in sorted(dst.glob("*.conf")):
            if has_virtual_server(path):
                found.append((str((src / path.name).relative_to(REPO)), path))
    return found


def test_strip_checkers_removes_blocks_and_keeps_everything_else():
    text = ('virtual_server 192.0.2.1 80 {  # TCP_CHECK { in a comment\n'
            '    real_server 198.51.100.1 80 {\n'
            '        weight 2\n'
            '        HTTP_GET {\n'
            '            url { path "/{x}" }\n'
            '        }\n'
            '        TCP_CHEK { connect_timeout 3 }\n'
            '    }\n'
            '    real_server 198.51.100.2 80 { MISC_CHECK { misc_path "/bin/true" } }\r\n'
            '}\n')
    assert strip_checkers(text) == (
        'virtual_server 192.0.2.1 80 {  # TCP_CHECK { in a comment\n'
        '    real_server 198.51.100.1 80 {\n'
        '        weight 2\n'
        '        \n'
        '\n'
        '\n'
        '        TCP_CHEK { connect_timeout 3 }\n'
        '    }\n'
        '    real_server 198.51.100.2 80 {  }\r\n'
        '}\n')


@pytest.mark.skipif(shutil.which(KEEPALIVED) is None, reason="keepalived not installed")
async def test_keepalived_and_haipvs_program_the_same_tables(director, tmp_path):
    # No default route on purpose: IPVS takes any unicast destination without one (the
    # kernel checks the address type only, ip_vs_ctl.c ip_vs_new_dest), and without it
    # keepalived's start-up name look-ups (the guest's resolv.conf) fail at once instead of
    # timing out for 10 s. Nothing is sent anywhere.
    files = oracle_files(tmp_path / "copy")
    assert len(files) >= len(list(PROBES.glob("*.conf"))), files
    findings: list[str] = []
    summary = {"identical": 0, "noted": 0, "unexplained": 0}
    started = time.monotonic()
    ready = 0
    for index, (name, conf) in enumerate(files):
        t0 = time.monotonic()
        ka = keepalived_table(director, conf, tmp_path / "keepalived" / str(index))
        ready += ka.ready
        if leftover := read_table(director):
            findings.append(f"  {name}: keepalived left services after SIGTERM: "
                            f"{sorted(leftover)}")
            clear(director)
        t1 = time.monotonic()
        hv = await haipvs_table(director, conf)
        clear(director)
        diffs = differences(ka.table, hv.table)
        unexplained = explain(diffs, conf, hv.notes)
        if hv.error:
            findings.append(f"  {name}: haipvs: {hv.error}")
        for diff in unexplained:
            findings.append(diff.report(name))
            if not ka.ready:
                findings.append("    keepalived did not reach its dump; its log ends:\n"
                                + "\n".join(f"      {line}"
                                            for line in ka.log.splitlines()[-8:]))
        kind = "unexplained" if unexplained else "noted" if diffs else "identical"
        summary[kind] += 1
        print(f"{name}: {kind}, {len(ka.table)} services, keepalived {t1 - t0:.1f}s, "
              f"haipvs {time.monotonic() - t1:.1f}s")
        for diff in diffs:
            for note in diff.notes:
                print(f"    noted: {diff.service}: {note}")
    print(f"{len(files)} files in {time.monotonic() - started:.0f}s: {summary}")
    # keepalived must have run for real on most files, or the comparison means nothing.
    assert ready >= len(files) // 2, f"keepalived initialised IPVS for only {ready} files"
    assert not findings, ("tables differ with no note saying what keepalived programs:\n"
                          + "\n".join(findings))
