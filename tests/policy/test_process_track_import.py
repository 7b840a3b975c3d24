"""`haipvs import-keepalived` for vrrp_track_process, an instance's and a sync group's
track_process and process_monitor_rcv_bufs (keepalived 2.2.7 vrrp_parser.c
vrrp_tprocess_*_handler, vrrp_track.c alloc_track_process, vrrp.c add_vrrp_to_track_process).
The output must pass `haipvs check` and give the watcher keepalived's matching rules."""

from __future__ import annotations

import textwrap
from pathlib import Path

from haipvs.config import load_config_text
from haipvs.drivers.proc_watch import process_spec, uses
from haipvs.importer import import_keepalived
from haipvs.policy.process_track import ParamMatch

INSTANCE = """
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.10/24
    }
    track_process {
%s
    }
}
"""


def translate(tmp_path: Path, text: str):
    path = tmp_path / "keepalived.conf"
    path.write_text(textwrap.dedent(text))
    result = import_keepalived(path)
    return result, load_config_text(result.yaml, "out.yaml")


def test_block_keywords_translate_and_keep_keepalived_semantics(tmp_path):
    result, config = translate(tmp_path, """
        vrrp_track_process web {
            process nginx
            weight -20 reverse
            quorum 2
            quorum_max 4
            delay 2
        }
        vrrp_track_process app {
            process /usr/bin/app -c /etc/app.conf
            param_match initial
            terminate_delay 0.5
            fork_delay 1
        }
        vrrp_track_process full {
            process /usr/sbin/sshd
            full_command
        }
    """ + INSTANCE % "web\napp weight 10\nfull weight -5 reverse")
    assert not result.dropped
    web, app, full = (process_spec(e) for e in config.vrrp_track_processes)
    assert (web.process, web.full_command, web.param_match) == ("nginx", False, ParamMatch.NONE)
    assert (web.quorum, web.quorum_max, web.terminate_delay, web.fork_delay) == (2, 4, 2.0, 2.0)
    assert (app.args, app.param_match, app.full_command) == (("-c", "/etc/app.conf"),
                                                             ParamMatch.INITIAL, True)
    assert (app.terminate_delay, app.fork_delay) == (0.5, 1.0)
    assert full.full_command and full.param_match is ParamMatch.NONE
    used = uses(config)
    assert used["web"]["VI_1"].weight == -20 and used["web"]["VI_1"].reverse
    assert used["app"]["VI_1"].weight == 10 and not used["app"]["VI_1"].reverse
    assert used["full"]["VI_1"].weight == -5 and used["full"]["VI_1"].reverse


def test_arguments_mean_exact_match(tmp_path):
    # vrrp_parser.c: `process NAME ARGS` without param_match is PARAM_MATCH_EXACT
    _, config = translate(tmp_path, """
        vrrp_track_process s {
            process sleep 100
        }
    """ + INSTANCE % "s")
    spec = process_spec(config.vrrp_track_processes[0])
    assert spec.param_match is ParamMatch.EXACT and spec.full_command


def test_quorum_max_zero_means_no_such_process(tmp_path):
    _, config = translate(tmp_path, """
        vrrp_track_process rogue {
            process rogue
            quorum_max 0
        }
    """ + INSTANCE % "rogue")
    spec = process_spec(config.vrrp_track_processes[0])
    assert (spec.quorum, spec.quorum_max) == (0, 0)


def test_what_keepalived_ignores_is_noted(tmp_path):
    result, config = translate(tmp_path, """
        global_defs {
            process_monitor_rcv_bufs 262144
        }
        vrrp_track_process p {
            process a
            process b
            quorum_max 2
            quorum 3
            param_match middle
        }
        vrrp_track_process noproc {
            weight 1
        }
    """ + INSTANCE % "p\nnoproc\nmissing\np weight")
    entry = config.vrrp_track_processes[0]
    assert (entry.process, entry.quorum, entry.quorum_max) == ("a", 1, 2)
    assert entry.param_match is None
    dropped = {(n.keyword, n.why.split(";")[0].split(":")[0]) for n in result.dropped}
    assert ("process", "process is already set") in dropped
    assert ("quorum", "quorum is greater than quorum_max") in dropped
    assert ("process_monitor_rcv_bufs", "haipvs sizes the process monitor's receive buffer "
            "itself (1 MiB) and walks /proc again when events are lost") in dropped
    assert any(n.keyword == "vrrp_track_process" and "noproc has no process" in n.why
               for n in result.dropped)
    assert [r.name for r in config.vrrp_instances[0].track_process] == ["p"]


def test_sync_group_track_process_goes_to_every_member(tmp_path):
    # vrrp.c add_vrrp_to_track_process(): the group's weight wins over the instance's
    # weighted ref; an unweighted instance ref stays unweighted
    _, config = translate(tmp_path, """
        vrrp_track_process a {
            process a
            weight 5
        }
        vrrp_track_process b {
            process b
        }
        vrrp_sync_group G {
            group {
                VI_1
            }
            track_process {
                a weight 30
                b weight -7
            }
        }
    """ + INSTANCE % "a weight 12 reverse\nb")
    used = uses(config)
    assert used["a"]["VI_1"].weight == 30 and used["a"]["VI_1"].reverse
    assert used["b"]["VI_1"].weight == 0
