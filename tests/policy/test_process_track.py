"""keepalived vrrp_track_process (core/track_process.c, vrrp/vrrp_track.c), pure: matching,
quorum/quorum_max, fork_delay and terminate_delay, with injected time."""

from haipvs.policy.priority import Contribution, weighted
from haipvs.policy.process_track import (
    CommChanged,
    Exec,
    Exit,
    Fork,
    ParamMatch,
    ProcessSpec,
    ProcessTable,
    ProcInfo,
    QuorumChanged,
    Scan,
    Tick,
    matches,
)


def cmdline(*argv: str) -> bytes:
    return b"".join(a.encode() + b"\0" for a in argv)


def info(comm: str, *argv: str, ppid: int = 1) -> ProcInfo:
    return ProcInfo(comm, cmdline(*argv) if argv else b"", ppid)


def table(*specs: ProcessSpec, running: dict[int, ProcInfo] | None = None) -> ProcessTable:
    t = ProcessTable(specs)
    assert t.handle(0.0, Scan(running or {})) == []  # read_procs(): no change told at start
    return t


NGINX = ProcessSpec("nginx", "nginx")


# ---- check_process() / check_params() --------------------------------------------------


def test_check_process_compares_comm_without_full_command():
    assert matches(NGINX, "nginx", cmdline("nginx: master process"))
    assert not matches(NGINX, "nginx-debug", cmdline("nginx"))
    # comm is what counts, not argv[0]
    assert not matches(ProcessSpec("n", "/usr/sbin/nginx"), "nginx", cmdline("/usr/sbin/nginx"))


def test_full_command_compares_argv0_with_the_path():
    spec = ProcessSpec("n", "/usr/sbin/nginx", full_command=True)
    assert matches(spec, "nginx", cmdline("/usr/sbin/nginx", "-g", "daemon off;"))
    assert not matches(spec, "nginx", cmdline("nginx"))
    assert not matches(spec, "nginx", None)


def test_param_match_exact_needs_the_same_arguments():
    spec = ProcessSpec("s", "sleep", ("100",), ParamMatch.EXACT, True)
    assert matches(spec, "sleep", cmdline("sleep", "100"))
    assert not matches(spec, "sleep", cmdline("sleep", "1000"))
    assert not matches(spec, "sleep", cmdline("sleep", "100", "x"))
    assert not matches(spec, "sleep", cmdline("sleep"))


def test_param_match_exact_without_arguments_means_none():
    spec = ProcessSpec("s", "sleep", (), ParamMatch.EXACT, True)
    assert matches(spec, "sleep", cmdline("sleep"))
    assert not matches(spec, "sleep", cmdline("sleep", "1"))


def test_param_match_partial_is_whole_leading_arguments():
    spec = ProcessSpec("s", "app", ("-c", "a.conf"), ParamMatch.PARTIAL, True)
    assert matches(spec, "app", cmdline("app", "-c", "a.conf", "-v"))
    assert not matches(spec, "app", cmdline("app", "-c", "a.conf.bak"))
    assert not matches(spec, "app", cmdline("app", "-v", "-c", "a.conf"))


def test_param_match_initial_lets_the_last_argument_be_a_prefix():
    spec = ProcessSpec("s", "app", ("-c", "a.co"), ParamMatch.INITIAL, True)
    assert matches(spec, "app", cmdline("app", "-c", "a.conf"))
    assert matches(spec, "app", cmdline("app", "-c", "a.co", "x"))
    assert not matches(spec, "app", cmdline("app", "-x", "a.conf"))


# ---- quorum -----------------------------------------------------------------------------


def test_initial_scan_sets_quorum_without_telling():
    t = table(NGINX, running={10: info("nginx"), 11: info("bash")})
    assert t.count("nginx") == 1 and t.up("nginx")
    t2 = table(NGINX)
    assert t2.count("nginx") == 0 and not t2.up("nginx")


def test_exit_of_last_process_loses_quorum_at_once_without_terminate_delay():
    t = table(NGINX, running={10: info("nginx")})
    assert t.handle(1.0, Exit(10)) == [QuorumChanged("nginx", False)]
    assert t.handle(2.0, Exec(20, info("nginx"))) == [QuorumChanged("nginx", True)]


def test_untracked_exit_and_fork_are_ignored():
    t = table(NGINX, running={10: info("nginx")})
    assert t.handle(1.0, Fork(99, 100)) == []
    assert t.handle(1.0, Exit(100)) == []
    assert t.count("nginx") == 1


def test_quorum_counts_processes():
    spec = ProcessSpec("w", "worker", quorum=2)
    t = table(spec, running={1: info("worker")})
    assert not t.up("w")
    assert t.handle(1.0, Exec(2, info("worker"))) == [QuorumChanged("w", True)]
    assert t.handle(2.0, Exec(3, info("worker"))) == []
    assert t.handle(3.0, Exit(1)) == []
    assert t.handle(4.0, Exit(2)) == [QuorumChanged("w", False)]


def test_quorum_max_exceeded_loses_quorum_and_back_in_range_regains_it():
    spec = ProcessSpec("w", "worker", quorum=1, quorum_max=2)
    t = table(spec, running={1: info("worker"), 2: info("worker")})
    assert t.up("w")
    assert t.handle(1.0, Exec(3, info("worker"))) == [QuorumChanged("w", False)]
    assert t.handle(2.0, Exit(3)) == [QuorumChanged("w", True)]


def test_quorum_max_zero_tracks_that_no_such_process_runs():
    # vrrp_parser.c: quorum_max 0 without a quorum sets quorum 0
    spec = ProcessSpec("ban", "rogue", quorum=0, quorum_max=0)
    t = table(spec)
    assert t.up("ban")
    assert t.handle(1.0, Exec(5, info("rogue"))) == [QuorumChanged("ban", False)]
    assert t.handle(2.0, Exit(5)) == [QuorumChanged("ban", True)]


# ---- delays (check_process_termination / check_process_fork timers) ---------------------


def test_terminate_delay_holds_quorum_until_it_runs_out():
    spec = ProcessSpec("d", "daemon", terminate_delay=2.0)
    t = table(spec, running={1: info("daemon")})
    assert t.handle(10.0, Exit(1)) == []
    assert t.up("d") and t.deadline == 12.0
    assert t.handle(11.9, Tick()) == []
    assert t.handle(12.0, Tick()) == [QuorumChanged("d", False)]
    assert t.deadline is None


def test_restart_within_terminate_delay_never_loses_quorum():
    spec = ProcessSpec("d", "daemon", terminate_delay=2.0)
    t = table(spec, running={1: info("daemon")})
    t.handle(10.0, Exit(1))
    assert t.handle(11.0, Exec(2, info("daemon"))) == []
    assert t.deadline is None
    assert t.handle(13.0, Tick()) == [] and t.up("d")


def test_terminate_delay_does_not_apply_to_a_process_that_stops_matching():
    # remove_process_from_track(): an exec into another program loses quorum at once
    spec = ProcessSpec("d", "daemon", terminate_delay=2.0)
    t = table(spec, running={1: info("daemon")})
    assert t.handle(10.0, Exec(1, info("other"))) == [QuorumChanged("d", False)]


def test_fork_delay_waits_before_a_forked_child_gives_quorum():
    spec = ProcessSpec("w", "worker", quorum=2, fork_delay=1.5)
    t = table(spec, running={1: info("worker")})
    assert t.handle(5.0, Fork(1, 2)) == []
    assert t.count("w") == 2 and not t.up("w") and t.deadline == 6.5
    assert t.handle(6.5, Tick()) == [QuorumChanged("w", True)]


def test_fork_delay_cancelled_by_an_exit_before_it_runs_out():
    spec = ProcessSpec("w", "worker", quorum=2, fork_delay=1.5)
    t = table(spec, running={1: info("worker")})
    t.handle(5.0, Fork(1, 2))
    assert t.handle(5.5, Exit(2)) == []
    assert t.deadline is None and t.handle(7.0, Tick()) == [] and not t.up("w")


def test_exec_gains_quorum_without_fork_delay():
    spec = ProcessSpec("w", "worker", fork_delay=3.0)
    t = table(spec)
    assert t.handle(1.0, Exec(7, info("worker"))) == [QuorumChanged("w", True)]


def test_forked_child_of_untracked_parent_counts_only_after_exec():
    t = table(NGINX)
    assert t.handle(1.0, Fork(1, 50)) == []
    assert t.handle(1.0, Exec(50, info("nginx"))) == [QuorumChanged("nginx", True)]
    assert t.handle(2.0, Fork(50, 51)) == []  # a worker: two processes now
    assert t.count("nginx") == 2


def test_comm_change_removes_and_adds_by_name():
    t = table(NGINX, running={10: info("nginx")})
    assert t.handle(1.0, CommChanged(10, "renamed")) == [QuorumChanged("nginx", False)]
    assert t.handle(2.0, CommChanged(11, "nginx")) == [QuorumChanged("nginx", True)]


def test_rescan_diffs_into_exits_and_new_processes():
    spec = ProcessSpec("d", "daemon", terminate_delay=1.0)
    t = table(spec, running={1: info("daemon")})
    assert t.handle(5.0, Scan({})) == []  # an exit: terminate_delay applies
    assert t.handle(6.0, Tick()) == [QuorumChanged("d", False)]
    assert t.handle(7.0, Scan({3: info("daemon")})) == [QuorumChanged("d", True)]


def test_quorum_feeds_the_shared_weight_rule():
    # vrrp_track.c process_update_track_process_status(): weight 0 = FAULT without quorum,
    # negative subtracted without it, positive added with it; reverse flips it.
    assert weighted(0, False, "no quorum") == Contribution(fault="no quorum")
    assert weighted(-20, False, "x") == Contribution(delta=-20)
    assert weighted(20, True, "x") == Contribution(delta=20)
    assert weighted(20, True, "x", reverse=True) == Contribution(delta=-20)
