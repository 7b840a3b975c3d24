"""FILE_CHECK probe (haipvs/health/file.py) on a real file, through keepalived's per-check
state (haipvs/health/state.py): up/down/up and weight changes as the file is rewritten, and
the file_check config key mapped to its probe."""

from __future__ import annotations

import trio

from haipvs.config import load_config_text
from haipvs.health.config_map import specs_from_config
from haipvs.health.file import probe_file
from haipvs.health.spec import Timing
from haipvs.health.state import CheckState
from haipvs.policy.file_check import FileProbe


def test_file_check_up_down_up_and_weight_follow_the_file(tmp_path):
    path = tmp_path / "weight"
    probe = FileProbe(str(path), weight=0)
    state = CheckState(Timing(delay_loop=0.5, retry=0), 0.0)  # the file decides at once

    def feed(text: str | None):
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text)
        result = trio.run(probe_file, probe)
        state.record(0.0, result)
        return state.up, result.weight

    assert feed(None) == (True, None)  # a missing file reads 0
    assert feed("1\n") == (False, None)
    assert feed("0\n") == (True, None)

    probe = FileProbe(str(path), weight=5, base_weight=10)
    path.write_text("2")
    assert trio.run(probe_file, probe).weight == 20
    path.write_text("-1")
    assert trio.run(probe_file, probe).weight == 5
    path.write_text("99999999999")  # out of range: keepalived keeps the last number
    assert trio.run(probe_file, probe).weight == 5


CONFIG = """\
virtual_servers:
  - address: 192.0.2.100
    port: 80
    protocol: TCP
    delay_loop: 10
    real_servers:
      - address: 198.51.100.2
        port: 80
        weight: 7
        file_check: {file: /run/haipvs-test/w, weight: -3, reverse: true}
"""


def test_file_check_maps_to_a_file_probe_read_every_half_second_without_retry():
    ((spec,),) = specs_from_config(load_config_text(CONFIG, "file.yaml")).values()
    assert spec.probe == FileProbe("/run/haipvs-test/w", -3, True, 7)
    assert (spec.timing.delay_loop, spec.timing.retry) == (0.5, 0)
