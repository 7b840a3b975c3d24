"""FILE_CHECK's rule, following keepalived 2.2.7 trackers/track_file.c (process_track_file,
update_track_file_status, process_update_checker_track_file_status) and check_file.c."""

from __future__ import annotations

from haipvs.policy.file_check import (
    INT32_MIN,
    FileProbe,
    FileVerdict,
    file_verdict,
    read_number,
)


def test_process_track_file_reads_like_strtol_base_0():
    assert read_number(b"42\n") == 42
    assert read_number(b"  -7 apples") == -7
    assert read_number(b"0x1f") == 31 and read_number(b"010") == 8
    assert read_number(b"0x") == 0  # strtol stops after the 0
    assert read_number(b"apples") == 0  # no digits: 0
    assert read_number(b"") == 0 and read_number(None) == 0  # empty or missing file


def test_process_track_file_ignores_a_number_out_of_32_bits():
    assert read_number(b"99999999999") is None
    assert read_number(str(2**31).encode()) == 2**31  # INT32_MAX + 1 is still taken


def test_weight_0_a_non_zero_number_is_down_zero_is_up_at_configured_weight():
    probe = FileProbe("/run/f", weight=0, base_weight=10)
    assert file_verdict(0, probe) == FileVerdict(True, None, "/run/f holds 0")
    assert not file_verdict(3, probe).up and not file_verdict(-1, probe).up


def test_weight_0_reverse_a_zero_number_is_down():
    probe = FileProbe("/run/f", weight=0, reverse=True)
    assert not file_verdict(0, probe).up
    assert file_verdict(5, probe).up


def test_number_times_weight_is_added_to_the_configured_weight():
    probe = FileProbe("/run/f", weight=2, base_weight=10)
    assert file_verdict(3, probe).weight == 16
    assert file_verdict(0, probe).weight == 10
    assert file_verdict(-4, probe).weight == 2


def test_reverse_subtracts_number_times_weight():
    assert file_verdict(3, FileProbe("/run/f", weight=2, reverse=True, base_weight=10)).weight == 4


def test_a_weight_below_0_is_0_quiesced_but_up_and_above_ipvs_max_is_65535():
    low = file_verdict(-100, FileProbe("/run/f", weight=1, base_weight=10))
    assert low.up and low.weight == 0
    assert file_verdict(10**6, FileProbe("/run/f", weight=10, base_weight=1)).weight == 65535


def test_only_ipvs_weight_fault_int32_min_is_a_fault():
    assert not file_verdict(INT32_MIN, FileProbe("/run/f", weight=1)).up
    assert not file_verdict(-(2**30), FileProbe("/run/f", weight=4)).up  # clamped to it
    assert file_verdict(-(2**30), FileProbe("/run/f", weight=1)).up
