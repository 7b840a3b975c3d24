"""haipvs(8) from the argparse definition, and the command that writes both man pages.

    python -m haipvs.mangen_cli OUTDIR      # writes OUTDIR/haipvs.8 and OUTDIR/haipvs.yaml.5

debian/rules runs it when the package is built, so the pages follow the code: every global
option and every subcommand (with its usage, options and positional arguments) comes from
`haipvs.cli.build_parser()`, the same parser `--help` and the bash completion
(haipvs/completion.py) read; a subcommand added tomorrow is in tomorrow's page. Signals come
from haipvs/daemon_signals.py's tables, paths from haipvs/config/process.py and statedump.py.
The YAML page is haipvs/config/mangen.py.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from haipvs import __version__, daemon_signals, statedump
from haipvs.config import process
from haipvs.config.mangen import config_page, escape, header, inline

# What each handled signal does (docs/operations.md "Signals" says more). A test checks that
# every signal daemon_signals handles has a row here, so a new one cannot go unmentioned.
SIGNAL_EFFECTS: dict[int, str] = {
    signal.SIGTERM: "graceful stop: priority 0 adverts and VIP release, notify_stop, then the "
    "IPVS services haipvs owns are removed (unless \\-\\-dont\\-release\\-ipvs); exit 0",
    signal.SIGINT: "as SIGTERM",
    signal.SIGQUIT: "as SIGTERM (keepalived dumps core; haipvs stops gracefully)",
    signal.SIGHUP: "reload the configuration: only the differences are applied; a MASTER "
    "keeps its VIPs",
    signal.SIGUSR1: f"write the state dump STATE_DIR/{statedump.JSON_NAME} "
    f"(and {statedump.TEXT_NAME} for people); \\fBhaipvs dump\\fR sends it and prints the file",
    daemon_signals.SIGJSON: "SIGJSON (SIGRTMIN+2, keepalived's number): as SIGUSR1",
    signal.SIGUSR2: f"write the statistics STATE_DIR/{statedump.STATS_NAME}, in "
    "keepalived's layout",
    daemon_signals.SIGSTATS_CLEAR: f"SIGSTATS_CLEAR (SIGRTMAX\\-1): write {statedump.STATS_NAME},"
    " then count from 0 again in that file",
    signal.SIGPIPE: "ignored: a notify FIFO reader that went away is an error on that write",
}

EXIT_STATUS = (
    ("0", "success; for the daemon, a graceful stop"),
    ("1", "failure: an invalid configuration (every error is printed as FILE:LINE: PATH: "
          "message), a daemon that could not start or whose VRRP thread died, no daemon "
          "answering \\fBdump\\fR"),
    ("2", "a usage error (unknown option, options that do not go together)"),
    ("130", "interrupted (SIGINT) in a foreground command other than the daemon"),
)


def _signal_name(signum: int) -> str:
    return daemon_signals.name(signum) if signum in daemon_signals.HANDLED \
        else signal.Signals(signum).name


def _option_head(action: argparse.Action) -> str:
    if action.option_strings:
        names = ", ".join(f"\\fB{escape(o)}\\fR" for o in action.option_strings)
    else:
        names = f"\\fI{escape(str(action.metavar or action.dest))}\\fR"
        return names
    if action.nargs == 0:
        return names
    if action.choices:
        value = "{" + ",".join(escape(str(c)) for c in action.choices) + "}"
    else:
        value = escape(str(action.metavar or action.dest.upper()))
    if action.nargs == "?":
        value = f"[{value}]"
    return f"{names} \\fI{value}\\fR"


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help:
        return ""
    return parser._get_formatter()._expand_help(action)


def _actions(parser: argparse.ArgumentParser) -> list[str]:
    lines: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction) \
                or action.help == argparse.SUPPRESS:
            continue
        lines += [".TP", _option_head(action), inline(_help(parser, action)) or "\\&"]
    return lines


def _usage(parser: argparse.ArgumentParser) -> str:
    usage = " ".join(parser.format_usage().split())
    return usage.removeprefix("usage: ")


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def daemon_page(version: str = __version__) -> str:
    from haipvs.cli import DEFAULT_CONFIG, build_parser

    parser = build_parser()
    lines = header("haipvs", 8, version)
    lines += [
        ".SH NAME",
        "haipvs \\- highly available LVS/IPVS director (VRRP, IPVS, health checks)",
        ".SH SYNOPSIS",
        f"\\fBhaipvs\\fR [\\fIOPTIONS\\fR] [\\fB\\-\\-config\\fR \\fI{escape(DEFAULT_CONFIG)}\\fR]",
        ".br",
        "\\fBhaipvs\\fR [\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]",
        ".SH DESCRIPTION",
        inline(parser.description or ""),
        ".PP",
        "haipvs elects MASTER and BACKUP between directors with VRRP (v2 and v3, wire\\-compatible "
        "with keepalived 2.2.7), holds the virtual IPs on the MASTER, and programs the kernel's "
        "IPVS table over generic netlink from its health checkers' verdicts. It is configured "
        "by one YAML file, described in \\fBhaipvs.yaml\\fR(5); "
        "\\fBhaipvs import\\-keepalived\\fR translates a keepalived.conf.",
        ".PP",
        "The Debian package does not start or enable the service: configure "
        f"\\fI{escape(DEFAULT_CONFIG)}\\fR, check it with \\fBhaipvs check\\fR, then "
        "\\fBsystemctl enable \\-\\-now haipvs\\fR.",
        ".SH OPTIONS",
        *_actions(parser),
        ".SH COMMANDS",
        "Without a command haipvs runs the daemon in the foreground (systemd: Type=notify).",
    ]
    for name, sub in subcommands(parser).items():
        lines += [f'.SS "{escape(name)}"', f"\\fB{escape(_usage(sub))}\\fR", ".PP",
                  inline(sub.description or "")]
        lines += _actions(sub)
    lines += [".SH SIGNALS", "The daemon answers:"]
    for signum, effect in SIGNAL_EFFECTS.items():
        lines += [".TP", f"\\fB{_signal_name(signum)}\\fR ({int(signum)})", effect]
    lines += [
        ".PP",
        "No signal above can kill the daemon with its default action at any moment of its "
        "life; during start\\-up a stop signal is remembered and carried out gracefully.",
        ".SH EXIT STATUS",
    ]
    for code, meaning in EXIT_STATUS:
        lines += [".TP", f"\\fB{code}\\fR", meaning]
    state = process.DEFAULT_STATE_DIR
    lines += [
        ".SH FILES",
        ".TP", f"\\fI{escape(DEFAULT_CONFIG)}\\fR",
        "the configuration (\\fBhaipvs.yaml\\fR(5)); an example is installed there.",
        ".TP", "\\fI/etc/default/haipvs\\fR",
        "DAEMON_ARGS for the systemd unit, e.g. DAEMON_ARGS=\"\\-\\-dont\\-release\\-ipvs\".",
        ".TP", f"\\fI{escape(state)}/{process.PID_FILE_NAME}\\fR",
        f"the pid file (global.pid_file); with global.instance or net_namespace the state "
        f"directory is \\fI{escape(state)}/INSTANCE\\fR or "
        f"\\fI{escape(state)}/{escape(process.NETNS_DIR)}/NAMESPACE\\fR.",
        ".TP", f"\\fI{escape(state)}/{statedump.JSON_NAME}\\fR, "
        f"\\fI{escape(state)}/{statedump.TEXT_NAME}\\fR",
        "the state dump written on SIGUSR1.",
        ".TP", f"\\fI{escape(state)}/{statedump.STATS_NAME}\\fR",
        "the statistics written on SIGUSR2.",
        ".TP", "\\fI/lib/systemd/system/haipvs.service\\fR",
        "the unit; \\fBhaipvs\\-withdraw.service\\fR withdraws scale\\-out routes once its "
        "restarts give up.",
        ".TP", "\\fI/usr/share/doc/haipvs/\\fR",
        "operations.md (signals, dump format, systemd), config.md, migration.md.",
        ".SH SEE ALSO",
        "\\fBhaipvs.yaml\\fR(5), \\fBipvsadm\\fR(8), \\fBkeepalived\\fR(8), "
        "\\fBsystemctl\\fR(1)",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m haipvs.mangen_cli OUTDIR", file=sys.stderr)
        return 2
    out = Path(args[0])
    out.mkdir(parents=True, exist_ok=True)
    (out / "haipvs.8").write_text(daemon_page())
    (out / "haipvs.yaml.5").write_text(config_page(__version__))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
