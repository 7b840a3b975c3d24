"""Real-server notify_up / notify_down in the director (haipvs/policy/rs_notify.py), as
keepalived runs them (check_parser.c notify_up_handler / notify_down_handler: argv as
configured, nothing appended, the script's own user; ipwrapper.c do_rs_notifies from
perform_svr_state and, on reload, clear_diff_rs -> clear_service_rs)."""

from __future__ import annotations

from haipvs.config.notify_script import ScriptCommand
from haipvs.events import RealServerChange, VirtualService
from haipvs.ipvs.desired import RealServerHealth
from haipvs.ipvs.model import DestKey
from haipvs.policy.director import ConfigChanged, HealthSettledDown, Start
from haipvs.policy.notify_scripts import RunNotify
from haipvs.policy.rs_notify import ServerScripts, rs_notify
from haipvs.policy.smtp_alerts import SmtpAlertPolicy
from tests.policy.director_support import (
    RS,
    WEB_KEY,
    config,
    director,
    events,
    health,
    kinds,
    of_type,
)

CONFIG = """
virtual_servers:
  - address: 192.0.2.100
    port: 80
    real_servers:
      - address: 198.51.100.10
        port: 8080
        tcp_check: {}
        notify_up: {command: /bin/rs-up web "a b", user: nobody}
        notify_down: [/bin/rs-down, web]
      - address: 198.51.100.11
        port: 8080
        tcp_check: {}
"""
ONE_GONE = CONFIG.split("      - address: 198.51.100.11")[0].replace(
    "      - address: 198.51.100.10", "      - address: 198.51.100.11", 1)
OWNER = f"rs:{WEB_KEY}/198.51.100.10:8080"


def runs(outputs) -> list[RunNotify]:
    return of_type(outputs, RunNotify)


def test_down_runs_notify_down_right_after_the_rs_event_as_configured():
    """perform_svr_state -> do_rs_notifies: the script, then (here: before) the FIFO line;
    haipvs queues the script right after the event the FIFO line is written from."""
    policy = director(CONFIG)
    out = policy.handle(5.0, health(RS[0], False, reason="connect refused"))
    assert kinds(out)[:2] == ["Emit:realserver", "RunNotify"]
    (run,) = runs(out)
    assert (run.owner, run.scripts, run.users) == (OWNER, (("/bin/rs-down", "web"),), (None,))
    assert run.env == {"HAIPVS_TYPE": "RS", "HAIPVS_SERVICE": str(WEB_KEY),
                       "HAIPVS_REAL_SERVER": "198.51.100.10:8080", "HAIPVS_STATE": "DOWN",
                       "HAIPVS_REASON": "connect refused"}


def test_up_runs_notify_up_with_its_own_user_and_nothing_appended():
    """set_check_notify_script: notify_script_init(0, ...): no extra arguments."""
    policy = director(CONFIG)
    policy.handle(5.0, health(RS[0], False))
    (run,) = runs(policy.handle(6.0, health(RS[0], True)))
    assert (run.scripts, run.users) == ((("/bin/rs-up", "web", "a b"),), ("nobody",))
    assert run.env["HAIPVS_STATE"] == "UP"


def test_every_transition_of_a_flapping_server_runs_its_script_once_in_order():
    policy = director(CONFIG)
    scripts = []
    for n in range(20):
        for up in (False, True):
            scripts += [r.scripts[0][0] for r in runs(policy.handle(n, health(RS[0], up)))]
    assert scripts == ["/bin/rs-down", "/bin/rs-up"] * 20


def test_no_script_without_an_up_down_change_or_without_scripts():
    """A weight change (update_svr_wgt) writes no RS line and runs nothing; a report that
    repeats the state changes nothing; a server without scripts runs none."""
    policy = director(CONFIG)
    assert runs(policy.handle(1.0, health(RS[0], True, weight=3))) == []
    assert runs(policy.handle(2.0, health(RS[1], False))) == []
    policy.handle(3.0, health(RS[0], False))
    assert runs(policy.handle(4.0, health(RS[0], False))) == []


def test_reload_removing_a_live_server_runs_its_notify_down_from_the_old_config():
    """clear_diff_rs -> clear_service_rs(stopping false): an alive server the reload removes
    is notified DOWN with its (old) script; afterwards the new config's scripts apply."""
    policy = director(CONFIG)
    out = policy.handle(7.0, ConfigChanged(config(ONE_GONE)))
    (event,) = events(out)
    assert (event.real_server, event.up, event.reason) == (
        "198.51.100.10:8080", False, "removed by reload")
    (run,) = runs(out)
    assert run.scripts == (("/bin/rs-down", "web"),)
    # 198.51.100.11 now has the scripts
    (run,) = runs(policy.handle(8.0, health(RS[1], False)))
    assert run.owner == f"rs:{WEB_KEY}/198.51.100.11:8080"


def test_reload_keeping_a_server_runs_nothing():
    """init_service_rs: a reloaded server keeps its state ("Do not re-add failed RS
    instantly on reload")."""
    policy = director(CONFIG)
    policy.handle(1.0, health(RS[0], False))
    assert runs(policy.handle(2.0, ConfigChanged(config(CONFIG)))) == []


def test_rs_notify_rule_alone():
    event = RealServerChange(service="s", real_server="r", up=True, weight=None, reason="ok",
                             at=0.0, virtual=VirtualService(6, "192.0.2.100", 80),
                             rs_address="198.51.100.1", rs_port=80, up_changed=True)
    scripts = ServerScripts(None, ScriptCommand(("/bin/d",)))
    assert rs_notify(scripts, event) is None  # no notify_up
    assert rs_notify(None, event) is None


INIT_NOTIFIES = """
global:
  rs_init_notifies: true
""" + CONFIG + """      - address: 198.51.100.12
        port: 8080
        tcp_check: {alpha: true}
        notify_up: [/bin/alpha-up]
"""


def test_rs_init_notifies_notifies_each_server_starting_up_before_the_quorum_line():
    """ipwrapper.c init_service_rs: SET_ALIVE, then with rs_init_notifies do_rs_notifies
    (RS line, notify_up); init_service_vs then update_quorum_state (VS line). A server with
    an alpha checker starts down: nothing."""
    policy = director(INIT_NOTIFIES, started=False)
    out = policy.handle(0.0, Start())
    assert [(e.kind, getattr(e, "real_server", None)) for e in events(out)] == [
        ("realserver", "198.51.100.10:8080"), ("realserver", "198.51.100.11:8080"),
        ("quorum", None)]
    assert all(e.up and e.up_changed for e in events(out)[:2])
    (run,) = runs(out)
    assert (run.owner, run.scripts, run.users) == (OWNER, (("/bin/rs-up", "web", "a b"),),
                                                   ("nobody",))
    order = [k for k in kinds(out) if k.startswith(("Emit", "Run"))]
    assert order[:4] == ["Emit:realserver", "RunNotify", "Emit:realserver", "Emit:quorum"]


def test_rs_init_notifies_notifies_a_server_a_reload_adds_not_the_kept_ones():
    policy = director(INIT_NOTIFIES.replace("198.51.100.11", "198.51.100.13"))
    out = policy.handle(1.0, ConfigChanged(config(INIT_NOTIFIES)))
    ups = [e.real_server for e in events(out) if e.kind == "realserver" and e.up]
    assert ups == ["198.51.100.11:8080"]  # added; .13 removed (was up: DOWN)


def test_without_rs_init_notifies_start_notifies_no_server():
    policy = director(CONFIG, started=False)
    assert [e.kind for e in events(policy.handle(0.0, Start()))] == ["quorum"]


def test_a_reload_that_removes_one_server_and_adds_another_runs_each_its_own_script():
    """The removed live server's notify_down from the old config, the added one's notify_up
    (rs_init_notifies) from the new config, in one reload."""
    old = INIT_NOTIFIES.replace("198.51.100.11", "198.51.100.13")  # .13 instead of .11
    new = INIT_NOTIFIES.replace("198.51.100.10", "198.51.100.14").replace(
        "/bin/rs-up", "/bin/new-up")  # .10 (scripted) gone, .14 with other scripts added
    policy = director(old)
    out = policy.handle(1.0, ConfigChanged(config(new)))
    assert [(r.owner.rsplit("/", 1)[1], r.scripts[0][0]) for r in runs(out)] == [
        ("198.51.100.10:8080", "/bin/rs-down"), ("198.51.100.14:8080", "/bin/new-up")]


def test_rs_init_notifies_changes_are_initial_and_mail_nothing():
    """init_service_rs -> do_rs_notifies: RS line and notify_up, no e-mail (the checkers
    mail, core/smtp.c); a later real change does."""
    text = INIT_NOTIFIES.replace("  rs_init_notifies: true\n", "  rs_init_notifies: true\n"
                                 "  smtp: {server: 192.0.2.25, notification_email: [a@b.c]}\n")
    policy = director(text, started=False)
    changes = [e for e in events(policy.handle(0.0, Start())) if e.kind == "realserver"]
    assert changes and all(e.initial for e in changes)
    mail = SmtpAlertPolicy()
    assert [a for e in changes for a in mail.handle(policy.config, e)] == []
    (down,) = [e for e in events(policy.handle(1.0, health(RS[0], False)))
               if e.kind == "realserver"]
    assert not down.initial and mail.handle(policy.config, down)


ALPHA = """
global:
  smtp: {server: 192.0.2.25, notification_email: [a@b.c]}
""" + CONFIG.replace("        tcp_check: {}\n        notify_up",
                     "        tcp_check: {alpha: true}\n        notify_up", 1)


def test_update_svr_checker_state_alpha_first_failure_runs_notify_down_without_mail():
    """ipwrapper.c update_svr_checker_state: an alpha checker's first failure (checker and
    server stay down) calls do_rs_notifies: the RS DOWN line and notify_down, no e-mail (the
    checker mails only when checker_was_up, check_tcp.c tcp_epilog)."""
    policy = director(ALPHA)
    out = policy.handle(3.0, HealthSettledDown(WEB_KEY, DestKey("198.51.100.10", 8080),
                                               RealServerHealth(False, None, "refused")))
    (event,) = events(out)
    assert (event.up, event.up_changed, event.initial) == (False, True, True)
    (run,) = runs(out)
    assert run.scripts == (("/bin/rs-down", "web"),)
    assert SmtpAlertPolicy().handle(policy.config, event) == []
    assert kinds(out) == ["Emit:realserver", "RunNotify"]  # nothing else: the table stays
