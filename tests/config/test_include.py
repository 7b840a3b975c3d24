"""`include:` (haipvs/config/include.py), keepalived's `include` (lib/parser.c): globs
relative to the including file, sorted matches, braces, lists merged, errors naming file
and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from haipvs.config import ConfigError, load_config
from haipvs.config.include import expand_braces, has_wildcard


def instance(name: str, vrid: int, vip: str) -> str:
    return (f"  - name: {name}\n    interface: eth0\n    virtual_router_id: {vrid}\n"
            f"    priority: 100\n    virtual_ipaddress: [{vip}]\n")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def errors(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(issue) for issue in caught.value.issues]


def test_glob_matches_are_merged_in_sorted_order_after_the_including_file(tmp_path: Path):
    """parser.c open_and_check_glob(): glob() returns the matches sorted; the lists of the
    included files follow the main file's."""
    write(tmp_path / "conf.d" / "20-b.yaml", "vrrp_instances:\n" + instance("VI_B", 3, "192.0.2.3"))
    write(tmp_path / "conf.d" / "10-a.yaml", "vrrp_instances:\n" + instance("VI_A", 2, "192.0.2.2"))
    main = write(tmp_path / "lvs.yaml", "global: {router_id: r1}\ninclude: [conf.d/*.yaml]\n"
                 "vrrp_instances:\n" + instance("VI_MAIN", 1, "192.0.2.1"))
    config = load_config(main)
    assert [i.name for i in config.vrrp_instances] == ["VI_MAIN", "VI_A", "VI_B"]
    assert config.include == ("conf.d/*.yaml",)
    assert config.global_settings.router_id == "r1"


def test_relative_patterns_start_at_the_including_files_directory(tmp_path: Path):
    """keepalived reads an included file from its own directory (parser.c chdir)."""
    write(tmp_path / "d" / "sub" / "leaf.yaml",
          "vrrp_scripts:\n  - {name: chk, script: [/bin/true]}\n")
    write(tmp_path / "d" / "mid.yaml", "include: [sub/leaf.yaml]\nvrrp_instances:\n"
          + instance("VI_MID", 2, "192.0.2.2"))
    main = write(tmp_path / "lvs.yaml", "include: [d/mid.yaml]\n")
    config = load_config(main)
    assert [i.name for i in config.vrrp_instances] == ["VI_MID"]
    assert [s.name for s in config.vrrp_scripts] == ["chk"]


def test_a_mapping_section_in_two_files_is_an_error_naming_both(tmp_path: Path):
    write(tmp_path / "conf.d" / "g.yaml", "# global again\nglobal: {router_id: r2}\n")
    main = write(tmp_path / "lvs.yaml", "global: {router_id: r1}\ninclude: [conf.d/*.yaml]\n")
    assert errors(main) == [
        f"{tmp_path}/conf.d/g.yaml:2: global: 'global' is already set at "
        f"{tmp_path}/lvs.yaml:1; only top-level lists may be split over included files"]


def test_a_duplicate_across_files_names_the_file_of_each_line(tmp_path: Path):
    """The rules across items run on the merged lists; their "first at line N" says which
    file the line is in."""
    write(tmp_path / "conf.d" / "b.yaml", "vrrp_instances:\n" + instance("VI_1", 2, "192.0.2.2"))
    main = write(tmp_path / "lvs.yaml", "include: [conf.d/*.yaml]\nvrrp_instances:\n"
                 + instance("VI_1", 1, "192.0.2.1"))
    (message,) = errors(main)
    assert message.startswith(f"{tmp_path}/conf.d/b.yaml:2: vrrp_instances[1].name: ")
    assert f"line 3 of {tmp_path}/lvs.yaml" in message


def test_errors_inside_an_included_file_carry_its_name_and_line(tmp_path: Path):
    write(tmp_path / "conf.d" / "b.yaml", "vrrp_instances:\n  - name: VI_2\n"
          "    interface: eth0\n    virtual_router_id: 2\n    priority: 300\n"
          "    virtual_ipaddress: [192.0.2.2]\n")
    main = write(tmp_path / "lvs.yaml", "include: [conf.d/*.yaml]\n")
    assert errors(main) == [
        f"{tmp_path}/conf.d/b.yaml:5: vrrp_instances[0].priority: 300 is out of range 1..255"]


def test_a_wildcard_matching_nothing_is_fine_a_missing_named_file_is_not(tmp_path: Path):
    """keepalived: "No config files matched" is only a warning for a wildcard; a named file
    that is missing ("Config files missing") is refused here, so a typo cannot drop VIPs."""
    main = write(tmp_path / "lvs.yaml", "include: [conf.d/*.yaml]\nvrrp_instances:\n"
                 + instance("VI_1", 1, "192.0.2.1"))
    assert [i.name for i in load_config(main).vrrp_instances] == ["VI_1"]
    main.write_text("include: [conf.d/*.yaml, vips.yaml]\n")
    assert errors(main) == [
        f"{main}:1: include: include: vips.yaml: no file {tmp_path}/vips.yaml (a pattern "
        "without a wildcard names a file that must exist)"]


def test_directories_matched_by_a_wildcard_are_skipped(tmp_path: Path):
    """parser.c check_glob_file(): "is a directory - skipping"."""
    (tmp_path / "conf.d" / "old.yaml").mkdir(parents=True)
    write(tmp_path / "conf.d" / "a.yaml", "vrrp_instances:\n" + instance("VI_A", 2, "192.0.2.2"))
    main = write(tmp_path / "lvs.yaml", "include: [conf.d/*.yaml]\n")
    assert [i.name for i in load_config(main).vrrp_instances] == ["VI_A"]


def test_braces_expand_as_glob_brace(tmp_path: Path):
    assert expand_braces("conf.d/{vips,services}.yaml") == [
        "conf.d/vips.yaml", "conf.d/services.yaml"]
    assert expand_braces("a{b,c{d,e}}f") == ["abf", "acdf", "acef"]
    assert expand_braces("{x}.yaml") == ["{x}.yaml"]  # no comma: not a group
    assert has_wildcard("x/*.yaml") and has_wildcard("{a,b}") and not has_wildcard("a.yaml")
    write(tmp_path / "s.yaml", "vrrp_instances:\n" + instance("VI_S", 3, "192.0.2.3"))
    write(tmp_path / "v.yaml", "vrrp_instances:\n" + instance("VI_V", 2, "192.0.2.2"))
    main = write(tmp_path / "lvs.yaml", "include: ['{v,s}.yaml']\n")
    assert [i.name for i in load_config(main).vrrp_instances] == ["VI_V", "VI_S"]


def test_a_file_included_twice_or_itself_is_an_error(tmp_path: Path):
    write(tmp_path / "a.yaml", "include: [lvs.yaml]\nvrrp_instances:\n"
          + instance("VI_A", 2, "192.0.2.2"))
    main = write(tmp_path / "lvs.yaml", "include: [a.yaml, '*.yaml']\n")
    messages = errors(main)
    assert any(m.startswith(f"{tmp_path}/a.yaml:1: include: include: lvs.yaml: ")
               and "already included by" in m and "the main file" in m for m in messages)
    assert any(m.startswith(f"{main}:1: include: include: *.yaml: {tmp_path}/a.yaml is "
                            f"already included by {main}:1") for m in messages)


def test_unreadable_or_non_mapping_included_files_are_reported(tmp_path: Path):
    write(tmp_path / "conf.d" / "a.yaml", "vrrp_instances: [\n")
    write(tmp_path / "conf.d" / "b.yaml", "- just a list\n")
    write(tmp_path / "conf.d" / "c.yaml", "# all commented out\n")
    main = write(tmp_path / "lvs.yaml", "include: [conf.d/*.yaml]\n")
    messages = errors(main)
    assert messages[0].startswith(f"{tmp_path}/conf.d/a.yaml:")
    assert "YAML syntax error" in messages[0]
    assert messages[1] == (f"{tmp_path}/conf.d/b.yaml:1: expected a mapping of top-level keys "
                           f"(included by {main}:1)")
    assert len(messages) == 2


def test_include_must_be_a_list_of_strings(tmp_path: Path):
    main = write(tmp_path / "lvs.yaml", "include: conf.d/*.yaml\n")
    assert errors(main) == [f"{main}:1: include: expected a list, got the string 'conf.d/*.yaml'"]
