"""haipvs(8) and haipvs.yaml(5) are generated (haipvs/manpage.py) from the argparse
definition and the config schema, so they cannot drift: every command, every option, every
config key is in them, and `man -l` renders them without a warning."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from haipvs.cli import build_parser
from haipvs.config.sections import CONFIG
from haipvs.config.spec import all_sections
from haipvs.manpage import SIGNALS, haipvs_8, haipvs_yaml_5, plain, roff

DOCS = Path(__file__).resolve().parents[2] / "docs"


def subcommands(parser):
    return next(a for a in parser._actions if hasattr(a, "_choices_actions")).choices


def test_haipvs_8_names_every_command_and_option():
    parser = build_parser()
    page = haipvs_8(parser)
    for name, sub in subcommands(parser).items():
        assert f".SS {roff(name)}\n" in page, name
        for action in sub._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert roff(option) in page, (name, option)
    for action in parser._actions:
        for option in action.option_strings:
            if option not in ("-h", "--help"):
                assert roff(option) in page, option


def test_haipvs_yaml_5_names_every_section_and_key():
    page = haipvs_yaml_5()
    for section in all_sections(CONFIG):
        assert f".SS {roff(section.name + ': ' + section.title)}" in page
        for f in section.fields:
            assert f"\\fB{roff(f.name)}\\fR (" in page, (section.name, f.name)


def test_signals_are_the_ones_docs_operations_lists():
    table = (DOCS / "operations.md").read_text().split("## Signals", 1)[1].split("\n\n")[1]
    documented = set(re.findall(r"`(SIG[A-Z0-9_]+)`", table))
    in_page = set(re.findall(r"SIG[A-Z0-9_]+", " ".join(name for name, _ in SIGNALS)))
    assert documented <= in_page, documented - in_page


def test_pages_are_plain_ascii_roff():
    for page in (haipvs_8(build_parser()), haipvs_yaml_5()):
        assert page.isascii()
        assert "](#" not in page and "`" not in page  # no Markdown left
        assert plain("[global](#global) `x` **y**") == "global x y"


@pytest.mark.skipif(shutil.which("man") is None or shutil.which("groff") is None,
                    reason="man-db/groff not installed")
@pytest.mark.parametrize("section", ["8", "5"])
def test_man_renders_the_page_without_warnings(tmp_path, section):
    page = tmp_path / ("haipvs.8" if section == "8" else "haipvs.yaml.5")
    page.write_text(haipvs_8(build_parser()) if section == "8" else haipvs_yaml_5())
    env = {**os.environ, "MANWIDTH": "80", "LC_ALL": "C.UTF-8"}
    check = subprocess.run(["groff", "-ww", "-z", "-man", str(page)], capture_output=True,
                           text=True, env=env, check=False)
    assert check.returncode == 0 and check.stderr == "", check.stderr
    out = subprocess.run(["man", "-l", str(page)], capture_output=True, text=True, env=env,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert ("HAIPVS(8)" if section == "8" else "HAIPVS.YAML(5)") in out.stdout
    assert ("SIGNALS" if section == "8" else "virtual_servers") in out.stdout
