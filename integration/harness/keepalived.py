"""keepalived 2.2.7 nodes: render a config, run it in the foreground in a node's netns,
read its VRRP state from its log and VIP presence from the kernel."""

from __future__ import annotations

import re
import shutil
import signal
from pathlib import Path

from integration.harness.instance import VrrpInstance
from integration.harness.proc import Proc, ProcessNode
from integration.harness.topology import Node
from integration.harness.wait import wait_until

_STATE_LINE = re.compile(r"\((?P<name>[^)]+)\) Entering (?P<state>[A-Z]+) STATE")


def render_keepalived_conf(router_id: str, instances: list[VrrpInstance]) -> str:
    lines = [
        "global_defs {",
        f"    router_id {router_id}",
        "    enable_script_security",
        "}",
        "",
    ]
    for inst in instances:
        body = [
            f"    state {inst.state}",
            f"    interface {inst.interface}",
            f"    virtual_router_id {inst.vrid}",
            f"    priority {inst.priority}",
            f"    advert_int {inst.advert_int:g}",
            f"    version {inst.version}",
        ]
        if not inst.preempt:
            body.append("    nopreempt")
        elif inst.preempt_delay:
            body.append(f"    preempt_delay {inst.preempt_delay:g}")
        if inst.auth is not None:
            body += ["    authentication {", "        auth_type PASS",
                     f"        auth_pass {inst.auth}", "    }"]
        if inst.unicast_src_ip:
            body.append(f"    unicast_src_ip {inst.unicast_src_ip}")
        if inst.unicast_peers:
            body += ["    unicast_peer {", *(f"        {p}" for p in inst.unicast_peers), "    }"]
        garp_names = {"master_delay": "garp_master_delay", "master_repeat": "garp_master_repeat",
                      "master_refresh": "garp_master_refresh",
                      "lower_prio_repeat": "garp_lower_prio_repeat"}
        for key, value in inst.garp.items():
            body.append(f"    {garp_names[key]} {value:g}")
        body += ["    virtual_ipaddress {",
                 *(f"        {vip} dev {inst.interface}" for vip in inst.vips), "    }"]
        lines += [f"vrrp_instance {inst.name} {{", *body, "}", ""]
    return "\n".join(lines)


def keepalived_binary() -> str | None:
    return shutil.which("keepalived")


class KeepalivedNode(ProcessNode):
    """keepalived (VRRP subsystem only) on `node`, with private pid files and config dir."""

    kind = "keepalived"

    def __init__(self, node: Node, workdir: Path, instances: list[VrrpInstance],
                 router_id: str | None = None) -> None:
        self.node = node
        self.instances = {inst.name: inst for inst in instances}
        self.router_id = router_id or node.name
        self.workdir = Path(workdir) / f"keepalived-{node.name}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf_path = self.workdir / "keepalived.conf"
        self.conf_path.write_text(render_keepalived_conf(self.router_id, instances))
        self.log_path = self.workdir / "keepalived.log"
        self.proc: Proc | None = None

    def __repr__(self) -> str:
        return f"KeepalivedNode({self.node.name})"

    def start(self) -> KeepalivedNode:
        binary = keepalived_binary()
        if binary is None:
            raise RuntimeError("keepalived is not installed")
        d = self.workdir
        argv = [binary, "--dont-fork", "--log-console", "--log-detail", "--no-syslog",
                "--vrrp", "--dont-respawn", "-f", str(self.conf_path),
                "-p", str(d / "keepalived.pid"), "-r", str(d / "vrrp.pid"),
                "-c", str(d / "checkers.pid")]
        self.proc = Proc(self.node.netns, argv, self.log_path, name=f"keepalived-{self.node.name}")
        return self

    def signal(self, signum: int = signal.SIGUSR1) -> None:
        if self.proc:
            self.proc.signal(signum)

    def reload_without(self, instance: str) -> None:
        """keepalived's reload (SIGHUP) with `vrrp_instance <instance> { ... }` taken out of
        the current config file (the block ends at the first "}" alone on a line)."""
        conf = self.conf_path.read_text()
        begin = conf.index(f"vrrp_instance {instance} {{")
        self.conf_path.write_text(conf[:begin] + conf[conf.index("\n}\n", begin) + 3:])
        self.signal(signal.SIGHUP)

    # --- observing ---

    def transitions(self, name: str = "VI_1") -> list[str]:
        text = self.proc.log_text() if self.proc else ""
        return [m["state"] for m in _STATE_LINE.finditer(text) if m["name"] == name]

    def state(self, name: str = "VI_1") -> str | None:
        """The last state keepalived logged for the instance; None before it logged any."""
        if not self.alive:
            return "STOPPED"
        states = self.transitions(name)
        return states[-1] if states else None

    def has_vip(self, vip: str | None = None, name: str = "VI_1") -> bool:
        inst = self.instances[name]
        return self.node.has_address(vip or inst.vips[0], inst.interface)

    def wait_started(self, timeout: float = 5.0, name: str = "VI_1") -> None:
        """Until keepalived has run its instance's state machine (it logs the initial state)."""
        wait_until(lambda: self.transitions(name), timeout,
                   what=f"keepalived on {self.node.name} to start {name}",
                   describe=self.describe)

    def wait_state(self, state: str, timeout: float, name: str = "VI_1") -> None:
        wait_until(lambda: self.state(name) == state, timeout,
                   what=f"keepalived on {self.node.name} {name} in {state}",
                   describe=self.describe)

    def describe(self) -> str:
        return self.proc.log_tail() if self.proc else f"{self} not started"
