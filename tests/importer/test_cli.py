"""`haipvs import-keepalived` on the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

from haipvs.cli import main
from haipvs.config import load_config

SEED = Path(__file__).parent / "seed003" / "lvs01.conf"


def test_stdout_is_yaml_and_stderr_lists_untranslated_lines(tmp_path, capsys, monkeypatch):
    shutil.copy(SEED, tmp_path / "keepalived.conf")
    monkeypatch.chdir(tmp_path)
    assert main(["import-keepalived", "keepalived.conf"]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines()[0] == (
        "keepalived.conf:24: nat_mask: not translated (keepalived ignores it too; IPVS "
        "services have no netmask except for persistence_granularity)")
    (tmp_path / "lvs.yaml").write_text(out)
    assert load_config(tmp_path / "lvs.yaml").vrrp_instances[0].priority == 150


def test_output_file_passes_check(tmp_path, capsys):
    out = tmp_path / "lvs.yaml"
    assert main(["import-keepalived", str(SEED), "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""
    assert main(["check", str(out)]) == 0


def test_unreadable_file_fails(tmp_path, capsys):
    assert main(["import-keepalived", str(tmp_path / "missing.conf")]) == 1
    assert "missing.conf" in capsys.readouterr().err


def test_migration_guide_shows_the_real_output_for_the_seed():
    """docs/migration.md section 4 is what the importer prints for seed 003's lvs01."""
    from haipvs.importer import import_keepalived

    doc = (Path(__file__).parents[2] / "docs" / "migration.md").read_text()
    section = doc.split("## 4.", 1)[1]
    shown = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    produced = "\n".join(line for line in import_keepalived(SEED).yaml.splitlines()
                         if not line.lstrip().startswith("#")).strip()
    assert produced == shown.strip()
