"""track_script / track_file semantics (keepalived's) and how trackers follow a reload."""

import textwrap

import trio

from haipvs.config import load_config
from haipvs.config.model import TrackFile, VrrpScript
from haipvs.policy.priority import NOTHING, Contribution, Kind, Source, file_weighted
from haipvs.trackers import FileTracker, ScriptTracker, Trackers, read_track_file

OK = Source(Kind.TRACK_SCRIPT, "ok")
BAD = Source(Kind.TRACK_SCRIPT, "bad")


def script(**kw):
    return VrrpScript(name="chk", script=("/bin/true",), **kw)


def test_first_result_decides_then_fall_and_rise_apply():
    tracker = ScriptTracker(script(rise=2, fall=3))
    assert tracker.contribution(-10) == NOTHING  # nothing known yet
    assert tracker.record(True) and tracker.ok
    assert not tracker.record(False) and not tracker.record(False)
    assert tracker.record(False) and tracker.ok is False  # third failure in a row
    assert not tracker.record(True)
    assert not tracker.record(False)  # a failure resets the rise streak
    assert not tracker.record(True)
    assert tracker.record(True) and tracker.ok


def test_script_weight_semantics():
    tracker = ScriptTracker(script())
    tracker.record(True)
    assert tracker.contribution(20) == Contribution(delta=20)  # positive: added while OK
    assert tracker.contribution(-20) == NOTHING
    assert tracker.contribution(0) == NOTHING
    tracker = ScriptTracker(script())
    tracker.record(False)
    assert tracker.contribution(20) == NOTHING
    assert tracker.contribution(-20) == Contribution(delta=-20)  # subtracted while failed
    # weight 0: failed = FAULT
    assert tracker.contribution(0) == Contribution(fault="track_script chk failed")


def test_file_value_times_weight_and_faults():
    tracker = FileTracker(TrackFile(name="f", file="/nonexistent"))
    assert tracker.contribution(3) == NOTHING
    tracker.value = 5
    assert tracker.contribution(3) == Contribution(delta=15)
    assert tracker.contribution(-2) == Contribution(delta=-10)
    assert tracker.contribution(0).fault is not None  # non-zero with weight 0 = FAULT
    tracker.value = 127
    assert tracker.contribution(-2).fault is not None  # -254 is a fault
    tracker.value = 0
    assert tracker.contribution(0) == NOTHING


def test_read_track_file(tmp_path):
    path = tmp_path / "v"
    assert read_track_file(str(path)) == 0  # missing
    for text, value in (("42\n", 42), ("-7 trailing", -7), ("", 0), ("junk", 0)):
        path.write_text(text)
        assert read_track_file(str(path)) == value


CONFIG = """
vrrp_scripts:
  - {name: ok, script: [/bin/true], interval: 0.1, weight: 10}
  - {name: bad, script: [/bin/false], interval: 0.1}
vrrp_instances:
  - {name: VI_1, interface: eth0, virtual_router_id: 51, virtual_ipaddress: [192.0.2.100/24],
     track_script: [ok, bad]}
  - {name: VI_2, interface: eth0, virtual_router_id: 52, virtual_ipaddress: [192.0.2.101/24],
     track_script: [{name: ok, weight: -5}]}
"""


def load(tmp_path, text, name):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return load_config(str(path))


async def test_trackers_publish_and_follow_reload(tmp_path):
    published = []

    def publish(instance, source, *, delta, fault):
        published.append((instance, source, delta, fault))

    trackers = Trackers(load(tmp_path, CONFIG, "a.yaml"), publish)
    async with trio.open_nursery() as nursery:
        await nursery.start(trackers.run)
        def latest():
            return {(i, s): (d, f) for i, s, d, f in published}

        with trio.fail_after(5):  # until both scripts have a first result
            while not (latest().get(("VI_1", OK)) == (10, None)
                       and latest().get(("VI_1", BAD), (0, None))[1]):
                await trio.sleep(0.01)
        latest = latest()
        assert latest[("VI_1", OK)] == (10, None)
        assert latest[("VI_2", OK)] == (0, None)  # OK with a negative weight
        assert latest[("VI_1", BAD)][1] == "track_script bad failed"
        ok_tracker = trackers.scripts["ok"]

        # Reload: VI_2 stops using `ok`, `bad` disappears; `ok` keeps running (same spec).
        published.clear()
        new = CONFIG.replace("track_script: [ok, bad]", "track_script: [ok]")
        new = new.replace("  - {name: bad, script: [/bin/false], interval: 0.1}\n", "")
        new = new.replace(",\n     track_script: [{name: ok, weight: -5}]", "")
        trackers.update(load(tmp_path, new, "b.yaml"))
        assert trackers.scripts["ok"] is ok_tracker and "bad" not in trackers.scripts
        assert ("VI_2", OK, 0, None) in published
        assert ("VI_1", BAD, 0, None) in published
        nursery.cancel_scope.cancel()


FILES = """
vrrp_track_files:
  - {name: tf, file: FILE, weight: 0}
  - {name: tw, file: FILE, weight: -2}
vrrp_instances:
  - {name: VI_1, interface: eth0, virtual_router_id: 51, virtual_ipaddress: [192.0.2.100/24],
     track_file: [tf, tw]}
"""
TF, TW = Source(Kind.TRACK_FILE, "tf"), Source(Kind.TRACK_FILE, "tw")


async def test_initialise_track_file_state_before_the_instances_start(tmp_path):
    """keepalived/vrrp/vrrp_track.c initialise_track_file_state reads every track file while
    loading the config, so vrrp_scheduler.c vrrp_init_state starts an instance whose file is
    faulty in FAULT (no BACKUP first). read_files does that read, blocking, before the
    trackers run; the running tracker takes the value over and tells only a change."""
    path = tmp_path / "fault"
    path.write_text("1\n")
    config = load(tmp_path, FILES.replace("FILE", str(path)), "f.yaml")
    preset, published = [], []
    trackers = Trackers(config, lambda *a, **k: published.append((*a, k)))
    trackers.read_files(lambda *a, **k: preset.append((*a, k)))
    faulty = file_weighted("tf", 1, 0)  # weight 0: a non-zero value is a fault
    assert faulty.fault is not None
    assert preset == [("VI_1", TF, {"delta": 0, "fault": faulty.fault}),
                      ("VI_1", TW, {"delta": -2, "fault": None})]
    assert published == []

    async with trio.open_nursery() as nursery:
        await nursery.start(trackers.run)
        assert trackers.files["tf"].value == 1
        published.clear()
        path.write_text("0\n")
        with trio.fail_after(5):
            while ("VI_1", TF, {"delta": 0, "fault": None}) not in published:
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()


async def test_initialise_track_file_state_for_the_instances_a_reload_adds(tmp_path):
    """On a reload keepalived reads the track files while loading the new config, so an
    added instance whose file is faulty starts in FAULT too. read_files(config, instances)
    presets only the added instances; a running tracker keeps its own value."""
    path = tmp_path / "fault"
    path.write_text("0\n")
    text = FILES.replace("FILE", str(path))
    trackers = Trackers(load(tmp_path, text, "a.yaml"), lambda *a, **k: None)
    async with trio.open_nursery() as nursery:
        await nursery.start(trackers.run)
        running = trackers.files["tf"]
        path.write_text("3\n")
        added = text + ("  - {name: VI_2, interface: eth0, virtual_router_id: 52,"
                        " virtual_ipaddress: [192.0.2.101/24], track_file: [tf]}\n")
        preset = []
        trackers.read_files(lambda *a, **k: preset.append((*a, k)),
                            load(tmp_path, added, "b.yaml"), frozenset({"VI_2"}))
        assert preset == [("VI_2", TF, {"delta": 0,
                                        "fault": file_weighted("tf", 3, 0).fault})]
        assert trackers.files["tf"] is running and trackers._read_at_start == {}
        nursery.cancel_scope.cancel()
