"""The man pages are generated from the schema and the argparse definition (haipvs/config/mangen.py,
haipvs/mangen_cli.py), so they cover every setting and every subcommand by construction; these
tests keep it that way, and check that man(1) renders them without a warning."""

import argparse
import re
import shutil
import subprocess

import pytest

from haipvs import __version__, daemon_signals
from haipvs.cli import build_parser
from haipvs.config.mangen import config_page, escape, keys
from haipvs.config.sections import CONFIG
from haipvs.config.spec import all_sections
from haipvs.mangen_cli import SIGNAL_EFFECTS, daemon_page, main, subcommands


def test_config_page_documents_every_section_and_every_key_of_the_schema():
    page = config_page(__version__)
    sections = all_sections(CONFIG)
    assert len(sections) > 20
    for section in sections:
        start = page.index(f'.SS "{escape(section.name)}: ')
        end = page.find(".SS ", start + 1)
        body = page[start:end if end > 0 else len(page)]
        for field in section.fields:
            assert f".TP\n\\fB{escape(field.name)}\\fR (" in body, (section.name, field.name)
    documented = keys(page)
    every = {f.name for s in sections for f in s.fields}
    assert every <= documented


def test_config_page_carries_the_docs_intro_and_the_example():
    page = config_page(__version__)
    assert "How the file is checked" in page
    assert "virtual_router_id: 51" in page  # docgen's YAML example, verbatim
    assert "\\fBnb_get_retry\\fR" in page  # `code` became bold


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [o for a in parser._actions for o in a.option_strings
            if not isinstance(a, argparse._HelpAction) and a.help != argparse.SUPPRESS]


def test_daemon_page_has_every_subcommand_and_option_of_the_parser():
    page = daemon_page()
    parser = build_parser()
    for option in _options(parser):
        assert f"\\fB{escape(option)}\\fR" in page, option
    commands = subcommands(parser)
    assert {"check", "status", "dump", "completion", "import-keepalived"} <= set(commands)
    for name, sub in commands.items():
        start = page.index(f'.SS "{escape(name)}"\n')
        end = page.find(".SS ", start + 1)
        end = page.index(".SH SIGNALS") if end < 0 else end
        body = page[start:end]
        for option in _options(sub):
            assert f"\\fB{escape(option)}\\fR" in body, (name, option)


def test_daemon_page_names_every_signal_the_daemon_handles():
    """daemon_signals.HANDLED (keepalived's TERM/INT/HUP/USR1/USR2/JSON/STATS_CLEAR, plus
    QUIT) each have a row; a new handled signal without one fails here."""
    assert set(daemon_signals.HANDLED) <= set(SIGNAL_EFFECTS)
    page = daemon_page()
    for signum in daemon_signals.HANDLED:
        assert f"\\fB{daemon_signals.name(signum)}\\fR ({int(signum)})" in page
    for section in ("SIGNALS", "EXIT STATUS", "FILES", "SEE ALSO"):
        assert f".SH {section}\n" in page


def test_generated_roff_has_no_unescaped_request_lines():
    """A text line beginning with '.' or "'" would be read as a roff request."""
    known = re.compile(r"^\.(TH|SH|SS|TP|PP|IP|RS|RE|nf|fi|br|nh|\\\")( |$)")
    for page in (daemon_page(), config_page(__version__)):
        for line in page.splitlines():
            if line.startswith((".", "'")):
                assert known.match(line), line


def test_mangen_cli_writes_both_pages(tmp_path):
    assert main([str(tmp_path)]) == 0
    assert (tmp_path / "haipvs.8").read_text().startswith(".\\\" Generated")
    assert ".TH HAIPVS.YAML 5" in (tmp_path / "haipvs.yaml.5").read_text()
    assert main([]) == 2


@pytest.mark.parametrize("name", ["haipvs.8", "haipvs.yaml.5"])
def test_man_renders_the_page_without_warnings(tmp_path, name):
    man = shutil.which("man")
    if man is None:
        pytest.skip("man is not installed (apt install man-db)")
    main([str(tmp_path)])
    result = subprocess.run(
        [man, "--warnings", "-l", str(tmp_path / name)], capture_output=True, text=True,
        timeout=60, check=False, env={"MANWIDTH": "80", "PATH": "/usr/bin:/bin",
                                      "LC_ALL": "C.UTF-8", "MANPAGER": "cat"})
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    title = "HAIPVS(8)" if name == "haipvs.8" else "HAIPVS.YAML(5)"
    assert result.stdout.lstrip().startswith(title)
    assert len(result.stdout.splitlines()) > 100
