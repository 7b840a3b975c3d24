"""`haipvs completion bash` (issue 19): generated from the argparse definition, so every
subcommand and option completes; checked by running the script in bash itself."""

from __future__ import annotations

import argparse
import shutil
import subprocess

import pytest

from haipvs.cli import build_parser
from haipvs.completion import bash_script

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


def complete(*words: str) -> list[str]:
    """COMPREPLY for the command line `haipvs WORDS...` (the last word is being typed)."""
    line = ["haipvs", *words]
    program = (bash_script(build_parser())
               + "COMP_WORDS=(" + " ".join(f"'{w}'" for w in line) + ")\n"
               + f"COMP_CWORD={len(line) - 1}\n_haipvs\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    done = subprocess.run(["bash", "--norc", "--noprofile"], input=program, text=True,
                          capture_output=True, check=True, timeout=10)
    return [w for w in done.stdout.splitlines() if w]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_subcommand_completes_at_the_top():
    assert set(subcommands()) <= set(complete(""))
    assert set(complete("d")) == {"director-setup", "dump", "drain"}


def test_every_option_of_every_subcommand_is_offered_after_it():
    for name, sub in subcommands().items():
        options = {o for a in sub._actions for o in a.option_strings}
        assert options <= set(complete(name, "-")), name


def test_option_values_complete_from_choices():
    assert complete("--log-level", "w") == ["warning"]
    assert set(complete("lab", "--mode", "")) == {"nat", "dr", "bgp"}


def test_a_path_option_completes_file_names(tmp_path, monkeypatch):
    (tmp_path / "lvs.yaml").write_text("")
    monkeypatch.chdir(tmp_path)
    assert complete("--config", "lv") == ["lvs.yaml"]
    assert complete("check", "lv") == ["lvs.yaml"]  # check's positional: files
