"""Man pages, generated so they never drift: haipvs(8) from the argparse definition
(haipvs/cli.py build_parser) and haipvs.yaml(5) from the config schema (the same sections and
fields as docs/config.md, haipvs/config/docgen.py).

    python -m haipvs man 8 > haipvs.8        # man -l haipvs.8
    python -m haipvs man 5 > haipvs.yaml.5

Plain roff (the man(7) macros), no extra tools. The Debian package builds both at build time.
"""

from __future__ import annotations

import argparse
import os
import re
import time

from haipvs import __version__

# The daemon's signals (docs/operations.md "Signals" says the same at length; a test checks
# both name the same signals).
SIGNALS = (
    ("SIGTERM, SIGINT, SIGQUIT",
     "Graceful stop: priority-0 adverts, VIPs and owned IPVS services removed (unless -I), "
     "scripts and routes withdrawn; exit 0. keepalived leaves QUIT at its default (a core "
     "dump); haipvs stops gracefully on it too."),
    ("SIGHUP", "Reload the configuration; only the differences are applied and a MASTER "
     "keeps its VIPs. A file with errors is refused and the running config stays."),
    ("SIGUSR1", "Write the state dump STATE_DIR/haipvs.json (and haipvs.data for people)."),
    ("SIGJSON (SIGRTMIN+2)", "The same as SIGUSR1 (keepalived's --signum=JSON number)."),
    ("SIGUSR2", "Write the statistics STATE_DIR/haipvs.stats, as keepalived writes "
     "/tmp/keepalived.stats."),
    ("SIGSTATS_CLEAR (SIGRTMAX-1)", "Write haipvs.stats, then count its numbers from 0 "
     "again."),
    ("SIGPIPE", "Ignored: a notify FIFO reader that went away is an error on that write."),
)

def _files() -> tuple[tuple[str, str], ...]:
    """Each file's name from its one home in the code."""
    from haipvs.cli import DEFAULT_CONFIG
    from haipvs.config.process import PID_FILE_NAME
    from haipvs.ipvs.ownership import LEDGER_NAME
    from haipvs.statedump import JSON_NAME, STATS_NAME, TEXT_NAME

    state = "/run/haipvs"
    return (
        (DEFAULT_CONFIG, "The configuration (haipvs.yaml(5)); -f/--config FILE for another."),
        (f"{state}/{PID_FILE_NAME}", "The daemon's pid (global.pid_file). The state "
         "directory is /run/haipvs[/netns/NS][/INSTANCE] with global.net_namespace and "
         "global.instance."),
        (f"{state}/{JSON_NAME}", f"The state dump written on SIGUSR1 (and {TEXT_NAME} for "
         "people); haipvs dump and haipvs status read it."),
        (f"{state}/{STATS_NAME}", "VRRP statistics written on SIGUSR2."),
        (f"{state}/{LEDGER_NAME}", "The ownership ledger: the IPVS services this director "
         "created, so a restart adopts them and never touches foreign ones."),
        ("haipvs.service", "The systemd unit (Type=notify; ExecReload sends SIGHUP). The "
         "package does not enable or start it: configure the director first."),
    )


EXIT_STATUS = (
    ("0", "Success; the daemon stopped gracefully."),
    ("1", "Invalid configuration, the daemon could not start, or a command failed."),
    ("2", "Wrong command-line usage."),
    ("130", "Interrupted (Ctrl-C) outside the daemon."),
)


def plain(text: str) -> str:
    """The schema's texts are Markdown (docs/config.md): links, code and bold to plain."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    return text.replace("**", "").replace("`", "")


def roff(text: str) -> str:
    """Escape running text for roff: backslashes, and a leading dot or quote."""
    text = plain(text)
    text = text.replace("\\", "\\e").replace("-", "\\-")
    # non-ASCII (em dashes, arrows, ≤) as groff/mandoc Unicode escapes: the page stays ASCII
    text = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)
    lines = []
    for line in text.splitlines() or [""]:
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def _bold(text: str) -> str:
    return f"\\fB{roff(text)}\\fR"


def _date() -> str:
    """SOURCE_DATE_EPOCH when set (reproducible package builds), else today."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return time.strftime("%Y-%m-%d", time.gmtime(int(epoch) if epoch else None))


def _header(name: str, section: str, title: str) -> list[str]:
    return [f'.TH {name.upper()} {section} "{_date()}" "haipvs {__version__}" "{title}"',
            ".SH NAME", f"{roff(name)} \\- {roff(_purpose(name))}"]


def _purpose(name: str) -> str:
    return ("highly available LVS/IPVS director: VRRP, IPVS and health checks"
            if name == "haipvs" else "haipvs configuration file")


def _option_label(action: argparse.Action) -> str:
    names = ", ".join(_bold(o) for o in action.option_strings)
    if action.nargs == 0:
        return names
    metavar = action.metavar or (action.dest.upper() if action.option_strings else action.dest)
    if isinstance(metavar, tuple):
        metavar = " ".join(metavar)
    if action.choices is not None and action.metavar is None:
        metavar = "{" + ",".join(str(c) for c in action.choices) + "}"
    optional = action.nargs == "?"
    value = f"\\fI{roff(str(metavar))}\\fR"
    return f"{names} {'[' + value + ']' if optional else value}"


def _options(parser: argparse.ArgumentParser) -> list[str]:
    lines = []
    for action in parser._actions:  # argparse keeps no public list of them
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        if action.help == argparse.SUPPRESS:
            continue
        label = (_option_label(action) if action.option_strings
                 else f"\\fI{roff(action.metavar or action.dest)}\\fR")
        lines += [".TP", label, roff(action.help or "")]
    return lines


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser,
                                                                 str]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return [(name, sub, helps.get(name, "")) for name, sub in action.choices.items()]
    return []


def haipvs_8(parser: argparse.ArgumentParser) -> str:
    """haipvs(8): the daemon's options, every command with its options, signals, files."""
    lines = _header("haipvs", "8", "System Administration")
    lines += [".SH SYNOPSIS", f"{_bold('haipvs')} [\\fIOPTION\\fR]...",
              ".br", f"{_bold('haipvs')} \\fICOMMAND\\fR [\\fIARGUMENTS\\fR]...",
              ".SH DESCRIPTION",
              roff("haipvs makes Linux Virtual Server (LVS/IPVS) directors highly available, as "
                   "keepalived does: VRRP (v2 and v3) elects the MASTER, which holds the "
                   "virtual IPs and announces them with gratuitous ARP or unsolicited "
                   "neighbour advertisements; health checkers decide which real servers are "
                   "in the kernel's IPVS table, which haipvs programs over generic netlink. "
                   "Without a COMMAND, haipvs runs the daemon in the foreground (systemd: "
                   "Type=notify). It reads keepalived's semantics from a strict YAML file, "
                   "haipvs.yaml(5); haipvs import-keepalived translates a keepalived.conf."),
              ".SH OPTIONS"]
    lines += _options(parser)
    lines.append(".SH COMMANDS")
    for name, sub, text in _subcommands(parser):
        lines += [".SS " + roff(name), roff(text)]
        usage = " ".join(sub.format_usage().removeprefix("usage: ").split())
        lines += [".PP", f"\\fB{roff(usage)}\\fR"]
        options = _options(sub)
        if options:
            lines += [".RS", *options, ".RE"]
    lines.append(".SH SIGNALS")
    for signal, text in SIGNALS:
        lines += [".TP", _bold(signal), roff(text)]
    lines += [".PP", roff("No operator signal kills the daemon at any moment of its life: "
                          "during start-up and stop, reload and dump signals are ignored and "
                          "a stop is remembered.")]
    lines.append(".SH FILES")
    for path, text in _files():
        lines += [".TP", f"\\fI{roff(path)}\\fR", roff(text)]
    lines.append(".SH EXIT STATUS")
    for code, text in EXIT_STATUS:
        lines += [".TP", _bold(code), roff(text)]
    lines += [".SH SEE ALSO", "\\fBhaipvs.yaml\\fR(5), \\fBipvsadm\\fR(8), "
              "\\fBkeepalived\\fR(8), \\fBkeepalived.conf\\fR(5), \\fBsystemd.service\\fR(5)"]
    return "\n".join(lines) + "\n"


def haipvs_yaml_5() -> str:
    """haipvs.yaml(5): every section and key of the schema, as docs/config.md lists them."""
    from haipvs.config.docgen import _default_text
    from haipvs.config.sections import CONFIG
    from haipvs.config.spec import all_sections

    lines = _header("haipvs.yaml", "5", "File Formats")
    lines += [".SH SYNOPSIS", "\\fI/etc/haipvs/lvs.yaml\\fR", ".SH DESCRIPTION",
              roff("haipvs(8) reads one YAML file. haipvs check FILE validates it the way the "
                   "daemon does (like keepalived -t), reporting every problem as "
                   "FILE:LINE: PATH: message; haipvs schema prints a JSON Schema for editors. "
                   "Unknown keys, wrong types and out-of-range values are errors. Times are "
                   "seconds. Defaults follow keepalived 2.2.7."),
              ".SH SECTIONS"]
    for section in all_sections(CONFIG):
        lines += [".SS " + roff(f"{section.name}: {section.title}"), roff(section.doc)]
        for f in section.fields:
            default = _default_text(f)
            lines += [".TP", f"{_bold(f.name)} ({roff(f.kind.describe())}; default "
                      f"{roff(default)})", roff(f.doc)]
        if section.rules:
            lines += [".PP", "Rules:"]
            for rule in section.rules:
                lines += [".IP \\(bu 2", roff(rule)]
    lines += [".SH EXAMPLE", ".EX",
              roff("global:\n  router_id: lvs01\nvrrp_instances:\n  - name: VI_1\n"
                   "    interface: eth0\n    virtual_router_id: 51\n    priority: 150\n"
                   "    virtual_ipaddress: [192.0.2.100/24]\nvirtual_servers:\n"
                   "  - address: 192.0.2.100\n    port: 80\n    lb_algo: wrr\n"
                   "    lb_kind: NAT\n    real_servers:\n      - address: 198.51.100.10\n"
                   "        port: 8080\n        tcp_check: {connect_timeout: 3}"),
              ".EE", ".SH SEE ALSO", "\\fBhaipvs\\fR(8), \\fBkeepalived.conf\\fR(5)"]
    return "\n".join(lines) + "\n"
