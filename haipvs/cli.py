"""The `haipvs` command line.

`haipvs --config FILE` runs the daemon in the foreground; subcommands do everything else. Each
subcommand is one function registered with `@command(...)` below; keep heavy imports (trio,
pyroute2) inside the function so `check` and `schema` stay fast and dependency-light.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from haipvs import __version__, optimized
from haipvs.cli_lazy import LazyArguments
from haipvs.dataclass_lean import dataclass
from haipvs.logging_setup import FORMATS, LEVELS, configure_logging

if TYPE_CHECKING:
    from haipvs.config.model import Config

DEFAULT_CONFIG = "/etc/haipvs/lvs.yaml"

EXIT_OK = 0
EXIT_FAILURE = 1  # invalid config, daemon could not start
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    add_arguments: Callable[[argparse.ArgumentParser], None]


COMMANDS: dict[str, Command] = {}


def command(
    name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """Register a subcommand: `@command("name", "help", add_arguments)` on `run(args) -> int`."""

    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        if name in COMMANDS:
            raise ValueError(f"subcommand {name!r} registered twice")
        COMMANDS[name] = Command(name, help, run, add_arguments or (lambda parser: None))
        return run

    return register


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# --- check ------------------------------------------------------------------------------------


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="configuration files to check")


@command("check", "validate configuration files (like keepalived -t)", _check_arguments)
def run_check(args: argparse.Namespace) -> int:
    from haipvs.config import ConfigError, load_config
    from haipvs.config.warnings import config_warnings, differences_for

    status = EXIT_OK
    for path in args.files:
        try:
            config = load_config(path)
        except ConfigError as exc:
            for issue in exc.issues:
                print(issue, file=sys.stderr)
            print(f"{path}: {_plural(len(exc.issues), 'error')}", file=sys.stderr)
            status = EXIT_FAILURE
            continue
        for warning in config_warnings(config):
            print(f"warning: {path}: {warning}", file=sys.stderr)
        if _script_findings(path, config) or _ssl_findings(path, config):
            status = EXIT_FAILURE
            continue
        for difference in differences_for(config, _written(path)):
            print(f"note: {path}: {difference}", file=sys.stderr)
        real_servers = sum(len(vs.real_servers) for vs in config.virtual_servers)
        print(
            f"{path}: OK ({_plural(len(config.vrrp_instances), 'VRRP instance')}, "
            f"{_plural(len(config.virtual_servers), 'virtual server')}, "
            f"{_plural(real_servers, 'real server')})"
        )
    return status


def _script_findings(path: str, config: Config) -> bool:
    """keepalived's script checks (haipvs/script_creds.py); True when a script is refused."""
    from haipvs.script_creds import review

    report = review(config)
    for finding in report.findings:
        if finding.level in ("error", "warning"):
            print(f"{finding.level}: {path}: {finding}", file=sys.stderr)
    if report.errors:
        print(f"{path}: {_plural(len(report.errors), 'error')}", file=sys.stderr)
    return bool(report.errors)


def _ssl_findings(path: str, config: Config) -> bool:
    """The `ssl` section's files load (keepalived init_ssl_ctx); True when one does not."""
    from haipvs.health.tls_client import check_client

    why = check_client(config.ssl)
    if why is not None and config.ssl is not None:
        line = config.ssl.line_of(why.split(":", 1)[0])
        print(f"{path}:{line}: ssl.{why}", file=sys.stderr)
        print(f"{path}: 1 error", file=sys.stderr)
    return why is not None


def _written(path: str) -> dict | None:
    """The file as plain YAML data, so `check` can tell a value given from a default."""
    import yaml

    with open(path, encoding="utf-8") as stream:
        data = yaml.safe_load(stream)
    return data if isinstance(data, dict) else None


# --- schema -----------------------------------------------------------------------------------


@command("schema", "print the JSON Schema (draft 2020-12) of the configuration")
def run_schema(args: argparse.Namespace) -> int:
    from haipvs.config import json_schema

    json.dump(json_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


# --- import-keepalived ------------------------------------------------------------------------


def _import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="KEEPALIVED_CONF", help="keepalived.conf to translate")
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the YAML here (default stdout)"
    )
    parser.add_argument(
        "--config-id", metavar="ID", help="keep `@ID` lines, as keepalived --config-id does"
    )


@command(
    "import-keepalived",
    "translate a keepalived.conf into haipvs YAML; what cannot be translated is listed on stderr",
    _import_arguments,
)
def run_import_keepalived(args: argparse.Namespace) -> int:
    from haipvs.importer.cli import run

    return run(args)


# --- realserver / director-setup --------------------------------------------------------------


def _realserver_arguments(parser: argparse.ArgumentParser) -> None:
    from haipvs.realserver import add_arguments

    add_arguments(parser)


@command("realserver", "DR/TUN real-server setup: VIP on lo (or tunl0), ARP sysctls; "
         "down undoes exactly what up changed", _realserver_arguments)
def run_realserver(args: argparse.Namespace) -> int:
    from haipvs.realserver import run

    return run(args)


def _director_setup_arguments(parser: argparse.ArgumentParser) -> None:
    from haipvs.director_setup import add_arguments

    add_arguments(parser)


@command("director-setup", "kernel settings of an LVS director (ip_forward for NAT, "
         "IPVS conntrack), idempotent, reported", _director_setup_arguments)
def run_director_setup(args: argparse.Namespace) -> int:
    from haipvs.director_setup import run

    return run(args)


# --- lab ----------------------------------------------------------------------------------------


def _lab_arguments(parser: argparse.ArgumentParser) -> None:
    from haipvs.lab.lab import add_arguments

    add_arguments(parser)


@command("lab", "the seed tutorials' LVS lab (client, two directors, two real servers) in "
         "network namespaces: up, status, failover, down; --mode bgp: three active directors "
         "behind a BIRD router (ECMP), plus drain", _lab_arguments)
def run_lab(args: argparse.Namespace) -> int:
    from haipvs.lab.lab import run

    return run(args)


# --- the daemon -------------------------------------------------------------------------------


def run_daemon(args: argparse.Namespace) -> int:
    # Most signals terminate a process by default; until the daemon's signal task listens,
    # none an operator sends may kill it (haipvs/daemon_signals.py).
    from haipvs import daemon_signals

    daemon_signals.install_early()
    import structlog

    from haipvs.config import ConfigError, load_config

    try:
        configure_logging(args.log_format, args.log_level)
    except ValueError as exc:
        print(f"haipvs: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    log = structlog.get_logger("haipvs")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        for issue in exc.issues:
            log.error("config_invalid", issue=str(issue))
        return EXIT_FAILURE
    from haipvs.config.warnings import config_warnings

    for warning in config_warnings(config):
        log.warning("config_warning", where=warning.where, warning=warning.message)
    from haipvs.script_creds import secure_config

    config = secure_config(config, log)  # keepalived's script checks, at load
    if config.ssl is not None:  # issue 18: the TLS client loads for an ssl section only
        from haipvs.health.tls_client import check_client

        if (ssl_error := check_client(config.ssl)) is not None:  # fatal (init_ssl_ctx)
            log.error("config_invalid", issue=f"{args.config}: ssl.{ssl_error}")
            return EXIT_FAILURE
    overrides = {}
    if args.namespace is not None:  # keepalived -s: also on reload, via the overrides
        from haipvs.config.process import namespace_override

        overrides = namespace_override(config.global_settings, args.namespace)
        log.info("net_namespace_overridden", file=config.global_settings.net_namespace,
                 command_line=args.namespace)
    overrides.update({name: value for name, value in (("pid_file", args.pid_file),
                                                      ("state_dir", args.state_dir))
                      if value is not None})
    if overrides:
        import dataclasses

        config = dataclasses.replace(config, global_settings=dataclasses.replace(
            config.global_settings, **overrides))
    try:
        from haipvs import daemon
    except ImportError as exc:
        log.error("daemon_unavailable", error=f"cannot load the daemon: {exc}")
        return EXIT_FAILURE
    return daemon.run(config, config_path=args.config, overrides=overrides,
                      release_ipvs=not args.dont_release_ipvs)


# --- status -----------------------------------------------------------------------------------


def _state_dir_arguments(parser: argparse.ArgumentParser) -> None:
    """Which haipvs: its state_dir, or the global.instance / net_namespace it runs with."""
    parser.add_argument("--state-dir", default=None,
                        help="the daemon's state_dir (default from --instance/--net-namespace:"
                        " /run/haipvs[/netns/NS][/INSTANCE])")
    parser.add_argument("--instance", default=None, help="the daemon's global.instance")
    parser.add_argument("--net-namespace", default=None,
                        help="the daemon's global.net_namespace")


def _state_dir(args: argparse.Namespace) -> str:
    from haipvs.config.process import runtime_paths

    return runtime_paths(args.instance, args.net_namespace, args.state_dir)[0]


def _status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    _state_dir_arguments(parser)
    parser.add_argument(
        "--pid-file", default=None, help="the daemon's pid file (default STATE_DIR/haipvs.pid)"
    )
    parser.add_argument(
        "--no-refresh", action="store_true", help="use the last state dump as it is"
    )
    counters = parser.add_mutually_exclusive_group()
    counters.add_argument("--stats", action="store_true",
                          help="counters as ipvsadm -Ln --stats: Conns, InPkts, OutPkts, "
                          "InBytes, OutBytes (read from the kernel; no daemon needed)")
    counters.add_argument("--rate", action="store_true",
                          help="rates as ipvsadm -Ln --rate: CPS, InPPS, OutPPS, InBPS, OutBPS")
    parser.add_argument("--exact", action="store_true",
                        help="with --stats/--rate: whole numbers, no K/M/G (ipvsadm --exact)")
    parser.add_argument("--watch", nargs="?", type=_positive_seconds, const=2.0, default=None,
                        metavar="SECONDS", help="show again every SECONDS (default 2) "
                        "until Ctrl-C")
    parser.add_argument("--count", type=int, default=None, metavar="N",
                        help="with --watch: stop after N screens")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0.1 and 3600 seconds: {text}")
    return value


@command(
    "status", "live IPVS table (ipvsadm -Ln layout) with real-server health; --stats and "
    "--rate as ipvsadm's; --watch", _status_arguments
)
def run_status(args: argparse.Namespace) -> int:
    from haipvs.status_command import counters, refresh_dump, status, watch

    if args.exact and not (args.stats or args.rate):
        print("haipvs status: --exact goes with --stats or --rate", file=sys.stderr)
        return 2
    if args.count is not None and (args.watch is None or args.count < 1):
        print("haipvs status: --count N (N >= 1) goes with --watch", file=sys.stderr)
        return 2
    state_dir = _state_dir(args)

    def show(out) -> int:
        if args.stats or args.rate:
            return counters(rate=args.rate, exact=args.exact, as_json=args.json, out=out)
        if not args.no_refresh:
            refresh_dump(state_dir, args.pid_file or f"{state_dir}/haipvs.pid")
        return status(state_dir, as_json=args.json, out=out)

    if args.watch is None:
        return show(sys.stdout)
    return watch(show, args.watch, args.count)


# --- dump -------------------------------------------------------------------------------------


def _dump_arguments(parser: argparse.ArgumentParser) -> None:
    _state_dir_arguments(parser)
    parser.add_argument(
        "--pid-file", default=None, help="the daemon's pid file (default STATE_DIR/haipvs.pid)"
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for the fresh dump (default 5)"
    )


@command(
    "dump",
    "ask the running daemon for a state dump (SIGUSR1) and print it as JSON",
    _dump_arguments,
)
def run_dump(args: argparse.Namespace) -> int:
    from haipvs.statedump import DumpError, request_dump

    state_dir = _state_dir(args)
    pid_file = args.pid_file or f"{state_dir}/haipvs.pid"
    try:
        dump = request_dump(state_dir, pid_file, args.timeout)
    except DumpError as exc:
        print(f"haipvs dump: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    json.dump(dump, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return EXIT_OK


# --- drain / undrain (scale-out, issue 17) ---------------------------------------------------


def _drain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("vip", nargs="?", help="the bgp VIP (scale_out.vips)")
    parser.add_argument("--all", action="store_true", help="every bgp VIP")
    _state_dir_arguments(parser)


def _drain_command(args: argparse.Namespace, verb: str) -> int:
    from pathlib import Path

    from haipvs.drivers.control_client import request
    from haipvs.limits import SCALE_OUT_CONTROL_SOCKET

    if bool(args.vip) == bool(args.all):
        print(f"haipvs {verb}: give a VIP or --all", file=sys.stderr)
        return EXIT_FAILURE
    path = Path(_state_dir(args)) / SCALE_OUT_CONTROL_SOCKET
    try:
        reply = request(path, f"{verb} {'all' if args.all else args.vip}")
    except (OSError, ValueError) as exc:
        print(f"haipvs {verb}: no running daemon with scale_out answers at {path}: {exc}",
              file=sys.stderr)
        return EXIT_FAILURE
    if not reply.get("ok"):
        print(f"haipvs {verb}: {reply.get('error')}", file=sys.stderr)
        return EXIT_FAILURE
    for vip, state in reply["vips"].items():
        print(f"{vip}: {state['phase']}{' (announced)' if state['announced'] else ''}")
    return EXIT_OK


@command("drain", "bgp VIP(s): withdraw the route now, keep serving until the connections "
         "are gone or drain_timeout (docs/scale-out.md)", _drain_arguments)
def run_drain(args: argparse.Namespace) -> int:
    return _drain_command(args, "drain")


@command("undrain", "bgp VIP(s): announce again as soon as fit", _drain_arguments)
def run_undrain(args: argparse.Namespace) -> int:
    return _drain_command(args, "undrain")


def _scale_out_config(args: argparse.Namespace, verb: str) -> Config | None:
    """The config; one that no longer validates still gives its scale_out table and
    net_namespace (the routes must go whatever broke), None when not even that."""
    from dataclasses import replace

    from haipvs.config import ConfigError, load_config
    from haipvs.scale_out_withdraw import lenient_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        config = lenient_config(args.config)
        if config is None:
            print(f"haipvs {verb}: {args.config} names no scale_out table; nothing withdrawn",
                  file=sys.stderr)
            return None
        print(f"haipvs {verb}: {args.config} does not validate; using its scale_out.table "
              f"{config.scale_out.table if config.scale_out else '-'}", file=sys.stderr)
    if args.namespace:
        config = replace(config, global_settings=replace(
            config.global_settings, net_namespace=args.namespace))
    return config


@command("withdraw-routes", "delete every scale-out VIP route haipvs announced (the "
         "systemd OnFailure unit; docs/scale-out.md)")
def run_withdraw_routes(args: argparse.Namespace) -> int:
    from haipvs.scale_out_withdraw import run_withdraw

    config = _scale_out_config(args, "withdraw-routes")
    return EXIT_FAILURE if config is None else run_withdraw(config, reason="withdraw-routes")


@command("stop-post", "systemd ExecStopPost: withdraw the scale-out routes when "
         "SERVICE_RESULT=watchdog (a hung haipvs); keep them otherwise")
def run_stop_post(args: argparse.Namespace) -> int:
    from haipvs.scale_out_withdraw import run_stop_post as stop_post

    config = _scale_out_config(args, "stop-post")
    return EXIT_FAILURE if config is None else stop_post(config)


# --- genhash ----------------------------------------------------------------------------------


def _genhash_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="http:// or https:// URL of the health page")
    parser.add_argument("--virtualhost", help="Host header (default: the URL's host)")
    parser.add_argument("--verify", action="store_true", help="verify the TLS certificate")
    parser.add_argument("--ca-file", help="CA bundle for --verify")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
    parser.add_argument("--http-protocol", choices=("1.0", "1.1"), default="1.0")


@command("genhash", "MD5 digest of a URL's body, for http_get/ssl_get digest:", _genhash_arguments)
def run_genhash(args: argparse.Namespace) -> int:
    from haipvs.health import ProbeFailure, genhash

    try:
        digest = genhash(
            args.url,
            virtualhost=args.virtualhost,
            verify=args.verify,
            ca_file=args.ca_file,
            timeout=args.timeout,
            http_protocol=args.http_protocol,
        )
    except (ProbeFailure, ValueError) as exc:
        print(f"haipvs genhash: {args.url}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"MD5SUM = {digest}")
    return 0


# --- parser -----------------------------------------------------------------------------------


def _completion_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=("bash",), help="the shell to complete for")


@command("completion", "print a shell completion script generated from these commands "
         "(bash: save it as /usr/share/bash-completion/completions/haipvs)",
         _completion_arguments)
def run_completion(args: argparse.Namespace) -> int:
    from haipvs.completion import bash_script

    print(bash_script(build_parser()), end="")
    return 0


def _man_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("section", choices=("8", "5"),
                        help="8: haipvs(8), the commands; 5: haipvs.yaml(5), the config file")


@command("man", "print a man page in roff, generated from these commands (8) or the config "
         "schema (5): haipvs man 8 > haipvs.8; man -l haipvs.8", _man_arguments)
def run_man(args: argparse.Namespace) -> int:
    from haipvs.manpage import haipvs_8, haipvs_yaml_5

    print(haipvs_8(build_parser()) if args.section == "8" else haipvs_yaml_5(), end="")
    return 0


def build_parser(lazy: bool = False) -> argparse.ArgumentParser:
    """`lazy`: each subcommand's arguments are added when that subcommand is parsed (main);
    otherwise all of them now (the man page and the completion walk every parser)."""
    parser = argparse.ArgumentParser(
        prog="haipvs",
        description="Highly available LVS/IPVS director: VRRP, IPVS and health checks. "
        "Without a subcommand, runs the daemon in the foreground.",
    )
    parser.add_argument("--version", action="version", version=f"haipvs {__version__}")
    parser.add_argument(
        "--config",
        "-f",
        default=DEFAULT_CONFIG,
        metavar="FILE",
        help=f"configuration file (default {DEFAULT_CONFIG})",
    )
    parser.add_argument("--pid-file", metavar="PATH", help="override global.pid_file")
    parser.add_argument("--state-dir", metavar="DIR", help="override global.state_dir")
    parser.add_argument("--namespace", "-s", metavar="NAME",
                        help="run in network namespace NAME: overrides global.net_namespace "
                        "(keepalived's -s/--namespace)")
    parser.add_argument(
        "--log-format",
        choices=FORMATS,
        default="auto",
        help="console (key=value) on a terminal, json otherwise (default auto)",
    )
    parser.add_argument("--log-level", choices=LEVELS, default="info")
    parser.add_argument(
        "--dont-release-ipvs",
        "-I",
        action="store_true",
        help="on stop, leave the IPVS services in the kernel (keepalived's -I); by default "
        "a graceful stop removes the services haipvs owns",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=LazyArguments)
    for cmd in COMMANDS.values():
        sub = subparsers.add_parser(cmd.name, help=cmd.help, description=cmd.help,
                                    add_arguments=cmd.add_arguments)
        if not lazy:
            sub.populate()
        sub.set_defaults(run=cmd.run)
    parser.set_defaults(run=run_daemon)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(lazy=True).parse_args(argv)
    if argv is None and args.run is run_daemon:  # the daemon, from its own command line
        optimized.reexec()  # once, under -OO (haipvs/optimized.py)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `haipvs schema | head`
        sys.stderr.close()
        return EXIT_FAILURE
