"""keepalived.conf statements -> the haipvs YAML document.

Every statement is either translated, or reported as a Note saying why not: a keyword is
never dropped silently. Unknown keywords are reported too (they may be typos that keepalived
would also have ignored, or features haipvs does not have).
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Callable
from typing import Any

from haipvs.importer.emit import Block
from haipvs.importer.grammar import Node, Token
from haipvs.importer.notes import CHANGED, Note

SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo",
              "ovf", "twos")
LB_KINDS = ("NAT", "DR", "TUN")
PROTOCOLS = ("TCP", "UDP", "SCTP")
DNS_TYPES = ("A", "NS", "CNAME", "SOA", "PTR", "MX", "TXT", "AAAA")
MAX_GROUP_EXPANSION = 256
DEFAULT_PERSISTENCE = 360

NO_MAIL = "haipvs sends no e-mail; use notify scripts or global.notify_fifo"
NO_STATIC = "haipvs manages only VIPs; configure static addresses and routes in the system"
WHY = {
    # global_defs
    "notification_email": NO_MAIL, "notification_email_from": NO_MAIL,
    "smtp_server": NO_MAIL, "smtp_connect_timeout": NO_MAIL, "smtp_helo_name": NO_MAIL,
    "smtp_alert": NO_MAIL, "smtp_alert_vrrp": NO_MAIL, "smtp_alert_checker": NO_MAIL,
    "enable_script_security": "haipvs runs scripts directly (argv, never a shell) as root",
    "script_user": "haipvs runs scripts as root; set misc_check.user per checker",
    "lvs_flush": "haipvs never flushes the IPVS table: services it does not own are kept",
    "lvs_flush_onstop": "haipvs never flushes the IPVS table on stop",
    "vrrp_strict": "haipvs has no strict mode; it always applies RFC receive checks",
    "vrrp_skip_check_adv_addr": "haipvs always checks the address list of adverts",
    "vrrp_mcast_group4": "haipvs uses the standard VRRP multicast group 224.0.0.18",
    "vrrp_mcast_group6": "haipvs uses the standard VRRP multicast group ff02::12",
    "vrrp_garp_interval": "haipvs sends each burst back to back",
    "vrrp_gna_interval": "haipvs sends each burst back to back",
    "vrrp_garp_master_refresh_repeat": "haipvs refreshes with master_repeat announcements",
    "dynamic_interfaces": "haipvs needs the interfaces to exist at start",
    "vrrp_no_swap": "haipvs does not lock memory", "checker_no_swap": "haipvs does not lock memory",
    "vrrp_priority": "haipvs runs its VRRP thread at normal priority",
    "checker_priority": "haipvs runs checkers at normal priority",
    "vrrp_rt_priority": "haipvs runs its VRRP thread at normal priority",
    "checker_rt_priority": "haipvs runs checkers at normal priority",
    # vrrp_instance
    "virtual_ipaddress_excluded": "haipvs advertises every VIP; moving them to "
    "virtual_ipaddress would change the adverts a keepalived peer sees",
    "virtual_routes": NO_STATIC, "virtual_rules": NO_STATIC,
    "static_ipaddress": NO_STATIC, "static_routes": NO_STATIC, "static_rules": NO_STATIC,
    "use_vmac": "haipvs has no VRRP virtual MAC (vmac) interfaces",
    "vmac_xmit_base": "haipvs has no VRRP virtual MAC (vmac) interfaces",
    "dont_track_primary": "haipvs always tracks the instance's interface",
    "strict_mode": "haipvs has no strict mode",
    "accept": "haipvs has no accept mode", "no_accept": "haipvs has no accept mode",
    "skip_check_adv_addr": "haipvs always checks the address list of adverts",
    "native_ipv6": "haipvs chooses the family from the VIPs",
    "debug": "use haipvs --log-level debug",
    "garp_master_refresh_repeat": "haipvs refreshes with master_repeat announcements",
    "notify_master_rx_lower_pri": "haipvs has no such notify script",
    "unicast_ttl": "haipvs sends unicast adverts with TTL 255",
    "track_process": "haipvs has no process tracking; use a vrrp_script",
    "track_bfd": "haipvs has no BFD",
    "kernel_rx_buf_size": "haipvs sizes its receive buffer itself",
    # virtual_server / real_server
    "nat_mask": "keepalived ignores it too; IPVS services have no netmask except for "
    "persistence_granularity",
    "omega": "haipvs runs no quorum_down / notify_down scripts at shutdown",
    "sorry_server_inhibit": "haipvs removes the sorry server when a real server is usable",
    "hashed": "haipvs sets no IPVS hashed flag", "persistence_engine": "haipvs has no "
    "persistence engines (sip)",
    "notify_up": "haipvs has no per-real-server notify scripts; read the state dump",
    "notify_down": "haipvs has no per-real-server notify scripts; read the state dump",
    "bind_port": "haipvs checkers use an ephemeral source port",
    "bind_if": "haipvs checkers bind by address (bindto), not interface",
    "BFD_CHECK": "haipvs has no BFD checker", "SMTP_CHECK": "haipvs has no SMTP checker",
    "FILE_CHECK": "haipvs has no file checker; use MISC_CHECK",
    "PING_CHECK": "haipvs has no ping checker; use MISC_CHECK",
    "min_length": "haipvs UDP checks do not check the reply length",
    "max_length": "haipvs UDP checks do not check the reply length",
    "regex_no_match": "haipvs has no negated regex", "regex_options": "haipvs regexes are "
    "Python `re` without options", "regex_stack": "haipvs needs no regex stack size",
    "regex_min_offset": "haipvs searches the whole body",
    "regex_max_offset": "haipvs searches the whole body",
    "fast_recovery": "haipvs has no fast recovery",
    "linkbeat_use_polling": "haipvs watches links over netlink",
    "net_namespace": "run haipvs itself in the namespace (ip netns exec)",
}


def _number(text: str) -> int | float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return int(value) if value.is_integer() and "." not in text else value


class Translator:
    def __init__(self, notes: list[Note]) -> None:
        self.notes = notes
        self.global_settings = Block()
        self.scripts: list[Block] = []
        self.track_files: list[Block] = []
        self.sync_groups: list[Block] = []
        self.instances: list[Block] = []
        self.virtual_servers: list[Block] = []
        self.vs_groups: dict[str, list[tuple[dict[str, Any], Node]]] = {}
        self.global_garp: dict[str, Any] = {}
        self.global_version: int | None = None
        self._sync_daemon_node: Node | None = None

    # ---- notes and values --------------------------------------------------------------

    def skip(self, node: Node, why: str | None = None) -> None:
        why = why or WHY.get(node.keyword) or "haipvs has no such setting"
        self.notes.append(Note(node.file, node.line, node.keyword, why))

    def changed(self, node: Node, why: str, keyword: str | None = None) -> None:
        self.notes.append(Note(node.file, node.line, keyword or node.keyword, why, CHANGED))

    def one(self, node: Node, convert: Callable[[str], Any] = str, low: float | None = None,
            high: float | None = None) -> Any:
        """The single argument of `node`, converted and range-checked; None (noted) if bad."""
        if not node.args:
            self.skip(node, "needs a value")
            return None
        if len(node.args) > 1 and convert is not _argv:
            self.skip(node, f"expected one value, got {len(node.args)}")
            return None
        raw = node.values[0] if convert is not _argv else node.args
        try:
            value = convert(raw)
        except ValueError:
            self.skip(node, f"bad value {' '.join(node.values)!r}")
            return None
        if isinstance(value, int | float) and not isinstance(value, bool) and (
            (low is not None and value < low) or (high is not None and value > high)
        ):
            self.skip(node, f"{value} is out of range {low:g}..{high:g}")
            return None
        return value

    def block(self, node: Node) -> list[Node]:
        if node.children is None:
            self.skip(node, "expected a { ... } block")
            return []
        return node.children

    # ---- top level ----------------------------------------------------------------------

    def run(self, nodes: list[Node]) -> dict[str, Any]:
        for node in nodes:
            if node.keyword == "virtual_server_group":
                self.vs_group(node)
        handlers = {
            "global_defs": self.global_defs,
            "vrrp_instance": self.vrrp_instance,
            "vrrp_sync_group": self.sync_group,
            "vrrp_script": self.vrrp_script,
            "vrrp_track_file": self.vrrp_track_file,
            "virtual_server": self.virtual_server,
            "virtual_server_group": lambda node: None,
        }
        for node in nodes:
            handler = handlers.get(node.keyword)
            if handler is None:
                self.skip(node, WHY.get(node.keyword, "unknown or unsupported top-level block"))
            else:
                handler(node)
        self.finish_instances()
        document: dict[str, Any] = {}
        if self.global_settings:
            document["global"] = self.global_settings
        for key, items in (("vrrp_scripts", self.scripts),
                           ("vrrp_track_files", self.track_files),
                           ("vrrp_sync_groups", self.sync_groups),
                           ("vrrp_instances", self.instances),
                           ("virtual_servers", self.virtual_servers)):
            if items:
                document[key] = items
        return document

    # ---- global_defs ---------------------------------------------------------------------

    def global_defs(self, node: Node) -> None:
        garp_names = {
            "vrrp_garp_master_delay": ("master_delay", _number),
            "vrrp_garp_master_repeat": ("master_repeat", int),
            "vrrp_garp_master_refresh": ("master_refresh", _number),
            "vrrp_garp_lower_prio_repeat": ("lower_prio_repeat", int),
            "vrrp_garp_lower_prio_delay": ("lower_prio_delay", _number),
        }
        g = self.global_settings
        for child in self.block(node):
            key = child.keyword
            if key == "router_id":
                value = self.one(child)
                if value is not None:
                    g["router_id"] = value
            elif key == "lvs_timeouts":
                self.lvs_timeouts(child)
            elif key == "lvs_sync_daemon":
                self.lvs_sync_daemon(child)
            elif key in garp_names:
                name, convert = garp_names[key]
                value = self.one(child, convert, 0, 86400)
                if value is not None:
                    self.global_garp[name] = (value, child)
            elif key == "vrrp_version":
                value = self.one(child, int, 2, 3)
                if value is not None:
                    self.global_version = value
            elif key == "notify_fifo":
                self.notify_fifo(child)
            else:
                self.skip(child)

    def lvs_timeouts(self, node: Node) -> None:
        values = node.values
        timeouts: dict[str, int] = {}
        i = 0
        while i < len(values):
            name = values[i]
            if name in ("tcp", "tcpfin", "udp") and i + 1 < len(values):
                try:
                    timeouts[name] = int(values[i + 1])
                except ValueError:
                    self.skip(node, f"bad {name} timeout {values[i + 1]!r}")
                i += 2
            else:
                self.skip(node, f"unknown timeout {name!r} (haipvs has tcp, tcpfin, udp)")
                i += 1
        if timeouts:
            self.global_settings["lvs_timeouts"] = timeouts

    def lvs_sync_daemon(self, node: Node) -> None:
        values = node.values
        if len(values) < 2:
            self.skip(node, "needs an interface and a vrrp instance")
            return
        sync: dict[str, Any] = {"interface": values[0], "vrrp_instance": values[1]}
        rest = values[2:]
        i = 0
        while i < len(rest):
            if rest[i] == "id" and i + 1 < len(rest):
                try:
                    sync["sync_id"] = int(rest[i + 1])
                except ValueError:
                    self.skip(node, f"bad sync id {rest[i + 1]!r}")
                i += 2
            elif rest[i] in ("maxlen", "port", "ttl", "group") and i + 1 < len(rest):
                self.skip(node, f"{rest[i]} {rest[i + 1]}: haipvs uses the kernel's defaults")
                i += 2
            else:
                self.skip(node, f"unknown option {rest[i]!r}")
                i += 1
        self.global_settings["lvs_sync_daemon"] = sync
        self._sync_daemon_node = node

    def notify_fifo(self, node: Node) -> None:
        if not node.args:
            self.skip(node, "needs a path")
            return
        path = node.values[0]
        if not path.startswith("/"):
            self.skip(node, "haipvs needs an absolute path")
            return
        self.global_settings["notify_fifo"] = path
        if len(node.args) > 1:
            self.skip(node, "the FIFO's owner options are not translated")

    # ---- vrrp_script / vrrp_track_file / vrrp_sync_group ---------------------------------

    def vrrp_script(self, node: Node) -> None:
        name = self.one(node)
        if name is None:
            return
        script = Block(name=name)
        for child in self.block(node):
            key = child.keyword
            if key == "script":
                argv = self.one(child, _argv)
                if argv:
                    script["script"] = argv
            elif key in ("interval", "timeout"):
                value = self.one(child, _number, 0.1, 86400)
                if value is not None:
                    script[key] = value
            elif key in ("rise", "fall"):
                value = self.one(child, int, 1, 1000)
                if value is not None:
                    script[key] = value
            elif key == "weight":
                self.script_weight(child, script)
            elif key == "user":
                self.skip(child, "haipvs runs tracking scripts as root")
            elif key == "init_fail":
                self.skip(child, "haipvs scripts start as OK until they fail")
            else:
                self.skip(child)
        if "script" not in script:
            self.skip(node, f"vrrp_script {name} has no script")
            return
        self.scripts.append(script)

    def script_weight(self, node: Node, target: Block) -> None:
        if not node.args:
            self.skip(node, "needs a value")
            return
        try:
            weight = int(node.values[0])
        except ValueError:
            self.skip(node, f"bad value {node.values[0]!r}")
            return
        if not -253 <= weight <= 253:
            self.skip(node, f"{weight} is out of range -253..253")
            return
        target["weight"] = weight
        if len(node.values) > 1:
            self.skip(node, f"{' '.join(node.values[1:])}: haipvs has no reverse weights")

    def vrrp_track_file(self, node: Node) -> None:
        name = self.one(node)
        if name is None:
            return
        entry = Block(name=name)
        for child in self.block(node):
            if child.keyword == "file":
                path = self.one(child)
                if path is not None and path.startswith("/"):
                    entry["file"] = path
                elif path is not None:
                    self.skip(child, "haipvs needs an absolute path")
            elif child.keyword == "weight":
                self.script_weight(child, entry)
            elif child.keyword == "init_file":
                self.skip(child, "haipvs does not create the file; a missing file reads as 0")
            else:
                self.skip(child)
        if "file" not in entry:
            self.skip(node, f"vrrp_track_file {name} has no file")
            return
        self.track_files.append(entry)

    def sync_group(self, node: Node) -> None:
        name = self.one(node)
        if name is None:
            return
        group = Block(name=name)
        for child in self.block(node):
            if child.keyword == "group":
                members = [c.keyword for c in self.block(child)]
                for c in child.children or []:
                    if c.args:
                        members.extend(c.values)
                group["group"] = members
            elif child.keyword in ("notify_master", "notify_backup", "notify_fault",
                                   "notify_stop", "notify"):
                argv = self.one(child, _argv)
                if argv:
                    group[child.keyword] = argv
            else:
                self.skip(child)
        if not group.get("group"):
            self.skip(node, f"vrrp_sync_group {name} has no group {{ ... }}")
            return
        group.above.append(f"vrrp_sync_group from {node.where}")
        self.sync_groups.append(group)

    # ---- vrrp_instance -------------------------------------------------------------------

    def vrrp_instance(self, node: Node) -> None:
        name = self.one(node)
        if name is None:
            return
        f: dict[str, Any] = {}
        sources: dict[str, Node] = {}  # key -> the statement it came from
        comments: dict[str, str] = {}
        garp: dict[str, Any] = {}
        garp_names = {
            "garp_master_delay": ("master_delay", _number),
            "garp_master_repeat": ("master_repeat", int),
            "garp_master_refresh": ("master_refresh", _number),
            "garp_lower_prio_repeat": ("lower_prio_repeat", int),
            "garp_lower_prio_delay": ("lower_prio_delay", _number),
        }
        simple: dict[str, tuple[str, Callable[[str], Any], float, float]] = {
            "virtual_router_id": ("virtual_router_id", int, 1, 255),
            "priority": ("priority", int, 1, 255),
            "advert_int": ("advert_int", _number, 0.01, 255),
            "vrrp_version": ("version", int, 2, 3),
            "version": ("version", int, 2, 3),
            "preempt_delay": ("preempt_delay", _number, 0, 1000),
        }
        for child in self.block(node):
            key = child.keyword
            sources[key] = child
            if key in simple:
                out, convert, low, high = simple[key]
                value = self.one(child, convert, low, high)
                if value is not None:
                    f[out] = value
            elif key == "state":
                value = self.one(child, str.upper)
                if value in ("MASTER", "BACKUP"):
                    f["state"] = value
                elif value is not None:
                    self.skip(child, f"unknown state {value!r}")
            elif key == "interface":
                value = self.one(child)
                if value is not None:
                    f["interface"] = value
            elif key == "nopreempt":
                f["preempt"] = False
            elif key == "preempt":
                f["preempt"] = True
            elif key == "authentication":
                auth = self.authentication(child)
                if auth is not None:
                    f["authentication"] = auth
            elif key in ("unicast_src_ip", "mcast_src_ip"):
                value = self.one(child, _address)
                if value is not None:
                    f["unicast_src_ip"] = value
                    if key == "mcast_src_ip":
                        comments["unicast_src_ip"] = f"mcast_src_ip at {child.where}"
                        self.changed(child, "became unicast_src_ip, which haipvs also uses "
                                     "as the source of multicast adverts")
            elif key == "unicast_peer":
                peers = []
                for peer in self.block(child):
                    try:
                        peers.append(_address(peer.keyword))
                    except ValueError:
                        self.skip(peer, "not an IP address")
                        continue
                    if peer.args:
                        self.skip(peer, f"{' '.join(peer.values)}: per-peer options are not "
                                  "translated")
                f["unicast_peers"] = peers
                f["_unicast_node"] = child
            elif key == "virtual_ipaddress":
                f["virtual_ipaddress"] = self.virtual_ipaddress(child)
            elif key in garp_names:
                out, convert = garp_names[key]
                value = self.one(child, convert, 0, 86400)
                if value is not None:
                    garp[out] = value
            elif key in ("track_interface", "track_script", "track_file"):
                f[key] = self.track_list(child, key[len("track_"):], sources)
            elif key in ("notify_master", "notify_backup", "notify_fault", "notify_stop",
                         "notify"):
                argv = self.one(child, _argv)
                if argv:
                    f[key] = argv
            elif key == "lvs_sync_daemon_interface":
                value = self.one(child)
                if value is not None:
                    self.global_settings["lvs_sync_daemon"] = {"interface": value,
                                                               "vrrp_instance": name}
                    self._sync_daemon_node = child
                    self.changed(child, "became global.lvs_sync_daemon")
            else:
                self.skip(child)
        if garp:
            f["garp"] = garp
        missing = [k for k in ("interface", "virtual_router_id") if k not in f]
        if not f.get("virtual_ipaddress"):
            missing.append("virtual_ipaddress")
        if missing:
            self.skip(node, f"vrrp_instance {name} has no {', '.join(missing)}; "
                      "haipvs needs them")
            return
        unicast_node = f.pop("_unicast_node", None)
        if f.get("unicast_peers") and "unicast_src_ip" not in f:
            self.skip(unicast_node, "haipvs needs unicast_src_ip with unicast peers (keepalived "
                      "guesses it from the interface); add both by hand")
            del f["unicast_peers"]
        self.check_auth_version(f, sources)
        order = ("name", "state", "interface", "virtual_router_id", "priority", "advert_int",
                 "version", "preempt", "preempt_delay", "authentication", "unicast_src_ip",
                 "unicast_peers", "virtual_ipaddress", "garp", "track_interface",
                 "track_script", "track_file", "notify_master", "notify_backup",
                 "notify_fault", "notify_stop", "notify")
        f["name"] = name
        instance = Block({k: f[k] for k in order if k in f and f[k] not in ([], None)})
        instance.notes.update(comments)
        instance.above.append(f"vrrp_instance {name} from {node.where}")
        instance.sources = sources  # type: ignore[attr-defined]
        self.instances.append(instance)

    def authentication(self, node: Node) -> dict[str, str] | None:
        kind, password = "PASS", None
        for child in self.block(node):
            if child.keyword == "auth_type":
                kind = (self.one(child) or "PASS").upper()
                if kind != "PASS":
                    self.skip(child, f"{kind}: haipvs has only simple-text PASS authentication")
                    return None
            elif child.keyword == "auth_pass":
                password = self.one(child)
                if password is not None and len(password.encode()) > 8:
                    self.changed(child, "truncated to 8 octets, as keepalived does")
                    password = password.encode()[:8].decode(errors="ignore")
            else:
                self.skip(child)
        if password is None:
            self.skip(node, "no auth_pass")
            return None
        return {"type": kind, "password": password}

    def check_auth_version(self, f: dict[str, Any], sources: dict[str, Node]) -> None:
        version = f.get("version", self.global_version)
        if version == 3 and "authentication" in f:
            self.skip(sources["authentication"],
                      "VRRPv3 has no authentication; keepalived ignores it too")
            del f["authentication"]
        advert = f.get("advert_int")
        if advert is not None and version in (2, None) and not float(advert).is_integer():
            family_v6 = any(":" in str(v if isinstance(v, str) else v.get("address", ""))
                            for v in f.get("virtual_ipaddress", []))
            if not family_v6:
                f["advert_int"] = max(1, round(advert))
                self.changed(sources["advert_int"], f"{advert} rounded to {f['advert_int']}: "
                             "VRRPv2 adverts are whole seconds")

    def virtual_ipaddress(self, node: Node) -> list[Any]:
        vips: list[Any] = []
        family: int | None = None
        for entry in self.block(node):
            try:
                interface = ipaddress.ip_interface(entry.keyword)
            except ValueError:
                self.skip(entry, "not an IP address")
                continue
            if family is None:
                family = interface.version
            elif interface.version != family:
                self.skip(entry, f"IPv{interface.version} VIP in an IPv{family} instance; "
                          "haipvs instances are single-family: put it in its own instance")
                continue
            vip: dict[str, str] = {"address": entry.keyword}
            values = entry.values
            i = 0
            while i < len(values):
                word = values[i]
                if word in ("dev", "label") and i + 1 < len(values):
                    vip[word] = values[i + 1]
                    i += 2
                elif word in ("brd", "broadcast", "scope", "preferred_lft", "valid_lft",
                              "metric") and i + 1 < len(values):
                    self.skip(entry, f"{word} {values[i + 1]}: haipvs adds VIPs with the "
                              "kernel's defaults")
                    i += 2
                elif word in ("no_track", "home", "nodad", "noprefixroute", "autojoin"):
                    self.skip(entry, f"{word}: haipvs has no such VIP option")
                    i += 1
                else:
                    self.skip(entry, f"unknown VIP option {word!r}")
                    i += 1
            if "label" in vip and interface.version == 6:
                self.skip(entry, "label: IPv6 addresses have no labels")
                del vip["label"]
            vips.append(vip["address"] if len(vip) == 1 else vip)
        return vips

    def track_list(self, node: Node, what: str, sources: dict[str, Node]) -> list[Any]:
        items: list[Any] = []
        for entry in self.block(node):
            sources[f"track_{what}:{entry.keyword}"] = entry
            item: dict[str, Any] = {"name": entry.keyword}
            values = entry.values
            i = 0
            while i < len(values):
                if values[i] == "weight" and i + 1 < len(values):
                    try:
                        weight = int(values[i + 1])
                    except ValueError:
                        self.skip(entry, f"bad weight {values[i + 1]!r}")
                    else:
                        if -253 <= weight <= 253:
                            item["weight"] = weight
                        else:
                            self.skip(entry, f"weight {weight} is out of range -253..253")
                    i += 2
                else:
                    self.skip(entry, f"{values[i]}: haipvs has no such track_{what} option")
                    i += 1
            items.append(item["name"] if len(item) == 1 else item)
        return items

    def finish_instances(self) -> None:
        """Apply global_defs defaults; drop references to instances that were not
        translated."""
        for instance in self.instances:
            if self.global_garp:
                garp = dict(instance.get("garp", {}))
                for name, (value, _node) in self.global_garp.items():
                    garp.setdefault(name, value)
                instance["garp"] = garp
                instance.note("garp", "includes global_defs vrrp_garp_* settings")
            if self.global_version is not None and "version" not in instance:
                instance["version"] = self.global_version
                self.check_auth_version(instance, instance.sources)  # type: ignore[attr-defined]
        names = {i["name"] for i in self.instances}
        for group in self.sync_groups:
            kept = []
            for member in group["group"]:
                if member in names:
                    kept.append(member)
                else:
                    self.notes.append(Note("sync group", 0, member, "no translated vrrp_instance "
                                           "of that name; left out of the group"))
            group["group"] = kept
        self.sync_groups[:] = [g for g in self.sync_groups if g["group"]]
        sync = self.global_settings.get("lvs_sync_daemon")
        if sync is not None and sync["vrrp_instance"] not in names:
            node = self._sync_daemon_node
            assert node is not None
            self.skip(node, f"names vrrp_instance {sync['vrrp_instance']!r}, which was not "
                      "translated")
            del self.global_settings["lvs_sync_daemon"]
        for key in ("track_script", "track_file"):
            known = {s["name"] for s in (self.scripts if key == "track_script"
                                         else self.track_files)}
            for instance in self.instances:
                refs = instance.get(key)
                if not refs:
                    continue
                kept = []
                for ref in refs:
                    ref_name = ref if isinstance(ref, str) else ref["name"]
                    if ref_name in known:
                        kept.append(ref)
                    else:
                        entry = instance.sources[f"{key}:{ref_name}"]  # type: ignore[attr-defined]
                        self.skip(entry, f"{key} {ref_name}: no translated "
                                  f"{'vrrp_script' if key == 'track_script' else 'vrrp_track_file'}"
                                  " of that name")
                if kept:
                    instance[key] = kept
                else:
                    del instance[key]

    # ---- virtual_server_group ------------------------------------------------------------

    def vs_group(self, node: Node) -> None:
        name = self.one(node)
        if name is None:
            return
        members: list[tuple[dict[str, Any], Node]] = []
        for entry in self.block(node):
            if entry.keyword == "fwmark":
                value = self.one(entry, int, 1, 2**32 - 1)
                if value is not None:
                    members.append(({"fwmark": value}, entry))
                continue
            addresses = self.address_range(entry)
            if addresses is None:
                continue
            port = None
            if entry.args:
                try:
                    port = int(entry.values[0])
                except ValueError:
                    self.skip(entry, f"bad port {entry.values[0]!r}")
                    continue
            members.extend(({"address": a, "port": port}, entry) for a in addresses)
        self.vs_groups[name] = members

    def address_range(self, entry: Node) -> list[str] | None:
        """`192.0.2.1-10` (last octet / last group) expanded; a single address as is."""
        text = entry.keyword
        if "-" not in text:
            try:
                return [str(ipaddress.ip_address(text))]
            except ValueError:
                self.skip(entry, "not an IP address")
                return None
        first, _, last = text.rpartition("-")
        try:
            start = ipaddress.ip_address(first)
            if start.version == 4:
                end_value = (int(start) & ~0xFF) | int(last)
            else:
                end_value = (int(start) & ~0xFFFF) | int(last, 16)
        except ValueError:
            self.skip(entry, "not an address range")
            return None
        count = end_value - int(start) + 1
        if count < 1:
            self.skip(entry, "empty address range")
            return None
        if count > MAX_GROUP_EXPANSION:
            self.skip(entry, f"range of {count} addresses; haipvs expands at most "
                      f"{MAX_GROUP_EXPANSION} (list them as separate virtual servers)")
            return None
        return [str(ipaddress.ip_address(int(start) + i)) for i in range(count)]

    # ---- virtual_server ------------------------------------------------------------------

    def virtual_server(self, node: Node) -> None:
        values = node.values
        if values[:1] == ["group"]:
            if len(values) < 2 or values[1] not in self.vs_groups:
                self.skip(node, f"virtual_server_group {values[1:2]} is not defined")
                return
            heads = self.vs_groups[values[1]]
            if not heads:
                self.skip(node, f"virtual_server_group {values[1]} is empty")
                return
            for head, entry in heads:
                if head.get("port") is None and "fwmark" not in head:
                    self.skip(entry, "group entry without a port")
                    continue
                self.add_virtual_server(
                    node, head, f"virtual_server group {values[1]} member at {entry.where}")
            return
        if values[:1] == ["fwmark"]:
            mark = self.one(Node("fwmark", node.args[1:], None, node.file, node.line), int,
                            1, 2**32 - 1)
            if mark is not None:
                self.add_virtual_server(node, {"fwmark": mark}, None)
            return
        if not values:
            self.skip(node, "needs an address and port, fwmark N or group NAME")
            return
        try:
            address = str(ipaddress.ip_address(values[0].strip("[]")))
        except ValueError:
            self.skip(node, f"bad address {values[0]!r}")
            return
        port = None
        if len(values) > 1:
            try:
                port = int(values[1])
            except ValueError:
                self.skip(node, f"bad port {values[1]!r}")
                return
        self.add_virtual_server(node, {"address": address, "port": port}, None)

    def add_virtual_server(self, node: Node, head: dict[str, Any], origin: str | None) -> None:
        vs = self.vs_body(node, head)
        if vs is None:
            return
        key = (vs.get("protocol", "TCP"), vs.get("address"), vs.get("port"), vs.get("fwmark"))
        for other in self.virtual_servers:
            other_key = (other.get("protocol", "TCP"), other.get("address"), other.get("port"),
                         other.get("fwmark"))
            if other_key == key:
                self.skip(node, "this virtual server is already defined; keepalived uses "
                          "the first")
                return
        vs.above.append(origin or f"virtual_server from {node.where}")
        self.virtual_servers.append(vs)

    def vs_body(self, node: Node, head: dict[str, Any]) -> Block | None:
        f: dict[str, Any] = dict(head)
        if f.get("port") is None:
            f.pop("port", None)
        defaults: dict[str, Any] = {}  # checker settings given at the virtual server level
        flags: list[tuple[str, Node]] = []
        real_nodes: list[Node] = []
        tun: dict[str, Any] = {}
        sorry_kind: str | None = None
        sources: dict[str, Node] = {}
        for child in self.block(node):
            key = child.keyword
            sources[key] = child
            if key == "delay_loop":
                value = self.one(child, _number, 0.01, 86400)
                if value is not None:
                    f["delay_loop"] = value
            elif key in ("lb_algo", "lvs_sched"):
                value = self.one(child, str.lower)
                if value in SCHEDULERS:
                    f["lb_algo"] = value
                elif value is not None:
                    self.skip(child, f"unknown scheduler {value!r}; haipvs uses wlc")
            elif key in ("lb_kind", "lvs_method"):
                kind = self.lb_kind(child, tun)
                if kind is not None:
                    f["lb_kind"] = kind
            elif key == "persistence_timeout":
                if not child.args:
                    f["persistence_timeout"] = DEFAULT_PERSISTENCE
                else:
                    value = self.one(child, int, 1, 31 * 24 * 3600)
                    if value is not None:
                        f["persistence_timeout"] = value
            elif key == "persistence_granularity":
                value = self.one(child)
                if value is not None:
                    f["persistence_granularity"] = value
            elif key == "protocol":
                value = self.one(child, str.upper)
                if value in PROTOCOLS:
                    f["protocol"] = value
                elif value is not None:
                    self.skip(child, f"unknown protocol {value!r}")
            elif key == "ops":
                f["ops"] = True
            elif key in ("sh-port", "sh-fallback", "mh-port", "mh-fallback", "flag-1",
                         "flag-2", "flag-3"):
                flags.append((key, child))
            elif key == "ip_family":
                value = self.one(child)
                if value in ("inet", "inet6"):
                    f["ip_family"] = 4 if value == "inet" else 6
                elif value is not None:
                    self.skip(child, f"unknown family {value!r}")
            elif key == "inhibit_on_failure":
                f["inhibit_on_failure"] = True
            elif key in ("quorum", "hysteresis"):
                value = self.one(child, int, 1 if key == "quorum" else 0, 2**31 - 1)
                if value is not None:
                    f[key] = value
            elif key in ("quorum_up", "quorum_down"):
                argv = self.one(child, _argv)
                if argv:
                    f[key] = argv
            elif key == "ha_suspend":
                f["ha_suspend"] = True
            elif key == "sorry_server":
                sorry = self.sorry_server(child)
                if sorry is not None:
                    f["sorry_server"] = sorry
            elif key == "sorry_server_lvs_method":
                sorry_kind = self.lb_kind(child, {})
            elif key == "virtualhost":
                value = self.one(child)
                if value is not None:
                    defaults["virtualhost"] = value
            elif key in ("retry", "delay_before_retry", "warmup", "connect_timeout", "alpha"):
                self.checker_default(child, defaults)
            elif key == "real_server":
                real_nodes.append(child)
            else:
                self.skip(child)
        if tun:
            for setting, value in tun.items():
                defaults.setdefault(f"_{setting}", value)
        if sorry_kind is not None and "sorry_server" in f:
            f["sorry_server"]["lb_kind"] = sorry_kind
        self.check_hysteresis(f, sources)
        algo = f.get("lb_algo", "wlc")
        sched_flags = []
        for name, child in flags:
            flag = self.sched_flag(name, algo, child)
            if flag is not None and flag not in sched_flags:
                sched_flags.append(flag)
        if sched_flags:
            f["sched_flags"] = sched_flags
        if f.get("ops") and f.get("protocol", "TCP") != "UDP":
            self.skip(sources["ops"], "ops applies only to UDP services")
            del f["ops"]
        if "persistence_granularity" in f and "persistence_timeout" not in f:
            self.skip(sources["persistence_granularity"],
                      "persistence_granularity without persistence_timeout")
            del f["persistence_granularity"]
        if "address" in f and "port" not in f and "persistence_timeout" not in f:
            self.skip(node, "virtual server without a port (only persistent services may "
                      "omit it)")
            return None
        comments: dict[str, str] = {}
        reals = []
        seen: set[tuple[str, Any]] = set()
        for rs_node in real_nodes:
            rs = self.real_server(rs_node, f, defaults)
            if rs is None:
                continue
            rs_key = (rs["address"], rs.get("port"))
            if rs_key in seen:
                self.skip(rs_node, "this real server is already listed")
                continue
            seen.add(rs_key)
            reals.append(rs)
        if reals:
            f["real_servers"] = reals
        if "fwmark" in f and "ip_family" not in f and reals and all(
                ":" in r["address"] for r in reals):
            f["ip_family"] = 6
            comments["ip_family"] = "from the real servers' addresses"
        order = ("address", "port", "fwmark", "ip_family", "protocol", "lb_algo", "sched_flags",
                 "lb_kind", "persistence_timeout", "persistence_granularity", "ops",
                 "delay_loop", "inhibit_on_failure", "sorry_server", "quorum", "hysteresis",
                 "quorum_up", "quorum_down", "ha_suspend", "real_servers")
        vs = Block({k: f[k] for k in order if k in f})
        vs.notes.update(comments)
        return vs

    def check_hysteresis(self, f: dict[str, Any], sources: dict[str, Node]) -> None:
        """haipvs needs hysteresis < quorum. keepalived takes any value; from quorum - 1 up it
        loses quorum only at live weight 0 either way, so only the regain threshold moves."""
        hysteresis = f.get("hysteresis")
        quorum = f.get("quorum", 1)
        if hysteresis is None or hysteresis < quorum:
            return
        f["hysteresis"] = quorum - 1
        self.changed(sources["hysteresis"], f"hysteresis {hysteresis} is not below quorum "
                     f"{quorum}; haipvs uses {quorum - 1}: quorum is still lost only at live "
                     f"weight 0, but regained at {2 * quorum - 1} instead of "
                     f"{quorum + hysteresis}")

    def lb_kind(self, node: Node, tun: dict[str, Any]) -> str | None:
        if not node.args:
            self.skip(node, "needs a value")
            return None
        kind = node.values[0].upper()
        if kind not in LB_KINDS:
            self.skip(node, f"unknown forwarding method {node.values[0]!r}")
            return None
        rest = node.values[1:]
        i = 0
        while i < len(rest):
            word = rest[i]
            if word == "type" and i + 1 < len(rest) and rest[i + 1] in ("ipip", "gue", "gre"):
                tun["tun_type"] = rest[i + 1]
                i += 2
            elif word == "port" and i + 1 < len(rest):
                try:
                    tun["tun_port"] = int(rest[i + 1])
                except ValueError:
                    self.skip(node, f"bad tunnel port {rest[i + 1]!r}")
                i += 2
            elif word in ("nocsum", "csum", "remcsum"):
                tun.setdefault("tun_flags", []).append(word)
                i += 1
            else:
                self.skip(node, f"unknown option {word!r}")
                i += 1
        if tun and kind != "TUN":
            self.skip(node, "tunnel options only apply to TUN")
            tun.clear()
        return kind

    def sched_flag(self, name: str, algo: str, node: Node) -> str | None:
        if name.startswith(("sh-", "mh-")):
            if name[:2] != algo:
                self.skip(node, f"{name} applies only to the {name[:2]} scheduler")
                return None
            return name
        if algo not in ("sh", "mh") or name == "flag-3":
            self.skip(node, f"{name} has no meaning haipvs can set with the {algo} scheduler")
            return None
        return f"{algo}-{'fallback' if name == 'flag-1' else 'port'}"

    def sorry_server(self, node: Node) -> dict[str, Any] | None:
        values = node.values
        if not values:
            self.skip(node, "needs an address")
            return None
        try:
            sorry: dict[str, Any] = {"address": str(ipaddress.ip_address(values[0]))}
            if len(values) > 1:
                sorry["port"] = int(values[1])
        except ValueError:
            self.skip(node, f"bad sorry server {' '.join(values)!r}")
            return None
        return sorry

    def checker_default(self, node: Node, defaults: dict[str, Any]) -> None:
        key = node.keyword
        if key == "alpha":
            defaults["alpha"] = True
            return
        convert = int if key == "retry" else _number
        value = self.one(node, convert, 0, 86400)
        if value is not None:
            defaults[key] = value

    # ---- real_server ---------------------------------------------------------------------

    def real_server(self, node: Node, vs: dict[str, Any], vs_defaults: dict[str, Any],
                    ) -> Block | None:
        values = node.values
        try:
            address = str(ipaddress.ip_address(values[0]))
            port = int(values[1]) if len(values) > 1 else None
        except (ValueError, IndexError):
            self.skip(node, f"bad real server {' '.join(values)!r}")
            return None
        rs: dict[str, Any] = {"address": address}
        comments: dict[str, str] = {}
        defaults = dict(vs_defaults)
        # TUN options given with the virtual server's lvs_method apply to its real servers.
        vs_tun = {k[1:]: defaults.pop(k) for k in list(defaults) if k.startswith("_tun_")}
        tun: dict[str, Any] = {}
        checkers: list[tuple[str, dict[str, Any], Node]] = []
        for child in self.block(node):
            key = child.keyword
            if key == "weight":
                value = self.one(child, int, 0, 65535)
                if value is not None:
                    rs["weight"] = value
            elif key in ("lb_kind", "lvs_method"):
                kind = self.lb_kind(child, tun)
                if kind is not None:
                    rs["lb_kind"] = kind
            elif key in ("uthreshold", "lthreshold"):
                value = self.one(child, int, 0, 65535)
                if value is not None:
                    rs[f"{key[0]}_threshold"] = value
            elif key == "inhibit_on_failure":
                rs["inhibit_on_failure"] = True
            elif key == "virtualhost":
                value = self.one(child)
                if value is not None:
                    defaults["virtualhost"] = value
            elif key in ("retry", "delay_before_retry", "warmup", "connect_timeout", "alpha",
                         "delay_loop"):
                self.checker_default(child, defaults)
            elif key in CHECKERS:
                checker = self.checker(child)
                if checker is not None:
                    checkers.append((CHECKERS[key], checker, child))
            else:
                self.skip(child)
        kind = rs.get("lb_kind") or vs.get("lb_kind", "NAT")
        vs_port = vs.get("port")
        if port is None and vs_port:
            port = vs_port
            comments["port"] = "keepalived uses the virtual server's port"
        if kind in ("DR", "TUN") and vs_port is not None and port not in (None, vs_port):
            self.changed(node, f"port {port} -> {vs_port}: {kind} cannot change the port; "
                         f"checks still go to port {port}", "real_server")
            for _name, checker, _child in checkers:
                if _name in CONNECTING:
                    checker.setdefault("connect_port", port)
            port = vs_port
        if port is not None:
            rs["port"] = port
        elif "fwmark" in vs and kind == "NAT":
            self.skip(node, "a NAT real server of a fwmark service needs a port")
            return None
        if not tun and kind == "TUN":
            tun = vs_tun
        if tun:
            if kind == "TUN":
                rs.update(tun)
            else:
                self.skip(node, "tunnel options without TUN")
        by_kind: dict[str, list[Block]] = {}
        for name, checker, child in checkers:
            for setting, value in defaults.items():
                if setting == "connect_timeout" and name not in CONNECTING:
                    continue
                if setting == "virtualhost" and name not in ("http_get", "ssl_get"):
                    continue
                checker.setdefault(setting, value)
            if name in CONNECTING and port is None and "connect_port" not in checker:
                self.skip(child, "the real server has no port; haipvs needs connect_port")
                continue
            by_kind.setdefault(name, []).append(_checker_block(checker))
        order = ("address", "port", "weight", "lb_kind", "tun_type", "tun_port", "tun_flags",
                 "u_threshold", "l_threshold", "inhibit_on_failure")
        block = Block({k: rs[k] for k in order if k in rs})
        for name, items in by_kind.items():
            block[name] = items[0] if len(items) == 1 else items
        block.notes.update(comments)
        return block

    # ---- checkers ------------------------------------------------------------------------

    def checker(self, node: Node) -> dict[str, Any] | None:
        name = CHECKERS[node.keyword]
        c: dict[str, Any] = {}
        urls: list[dict[str, Any]] = []
        for child in self.block(node):
            key = child.keyword
            if key in ("retry", "nb_get_retry"):
                value = self.one(child, int, 0, 10000)
                if value is not None:
                    c["retry"] = value
            elif key in ("delay_before_retry", "warmup"):
                value = self.one(child, _number, 0, 86400)
                if value is not None:
                    c[key] = value
            elif key == "delay_loop":
                value = self.one(child, _number, 0.01, 86400)
                if value is not None:
                    c[key] = value
            elif key == "alpha":
                c["alpha"] = True
            elif key in ("connect_timeout", "misc_timeout") and (
                    (key == "misc_timeout") == (name == "misc_check")):
                value = self.one(child, _number, 0.001, 86400)
                if value is not None:
                    c["timeout" if key == "misc_timeout" else key] = value
            elif key in ("connect_ip", "bindto") and name in CONNECTING:
                value = self.one(child, _address)
                if value is not None:
                    c[key] = value
            elif key == "connect_port" and name in CONNECTING:
                value = self.one(child, int, 1, 65535)
                if value is not None:
                    c[key] = value
            elif key == "url" and name in ("http_get", "ssl_get"):
                url = self.url(child, c)
                if url is not None:
                    urls.append(url)
            elif key == "virtualhost" and name in ("http_get", "ssl_get"):
                value = self.one(child)
                if value is not None:
                    c["virtualhost"] = value
            elif key == "http_protocol" and name in ("http_get", "ssl_get"):
                value = self.one(child)
                if value in ("1.0", "1.1"):
                    c["http_protocol"] = value
                elif value in ("1.0C", "1.0c"):
                    c["http_protocol"] = "1.0"
                    self.changed(child, "1.0C is 1.0 with Connection: close; haipvs closes "
                                 "every check connection")
                elif value is not None:
                    self.skip(child, f"haipvs speaks HTTP 1.0 and 1.1, not {value}")
            elif key == "enable_sni" and name == "ssl_get":
                c["sni"] = True
            elif key == "misc_path" and name == "misc_check":
                argv = self.one(child, _argv)
                if argv:
                    c["path"] = argv
            elif key == "misc_dynamic" and name == "misc_check":
                c["misc_dynamic"] = True
            elif key == "user" and name == "misc_check":
                value = self.one(child)
                if value is not None:
                    c["user"] = value
            elif key == "payload" and name == "udp_check":
                value = self.one(child, _hex)
                if value is not None:
                    c["payload_hex"] = value
            elif key == "require_reply" and name == "udp_check":
                c["require_reply"] = True
                if child.args:
                    self.skip(child, "haipvs checks that a reply arrives, not its contents")
            elif key == "type" and name == "dns_check":
                value = self.one(child, str.upper)
                if value in DNS_TYPES:
                    c["type"] = value
                elif value is not None:
                    self.skip(child, f"haipvs has no DNS query type {value!r}")
            elif key == "name" and name == "dns_check":
                value = self.one(child)
                if value is not None:
                    c["name"] = value
            else:
                self.skip(child)
        if name in ("http_get", "ssl_get"):
            if not urls:
                self.skip(node, "HTTP check without a url { path ... }")
                return None
            c["url"] = urls
            if name == "ssl_get" and "sni" not in c and "virtualhost" in c:
                c["sni"] = False
        if name == "misc_check" and not c.get("path"):
            self.skip(node, "MISC_CHECK without misc_path")
            return None
        return c

    def url(self, node: Node, checker: dict[str, Any]) -> dict[str, Any] | None:
        url: dict[str, Any] = {}
        for child in self.block(node):
            key = child.keyword
            if key == "path":
                value = self.one(child)
                if value is not None and value.startswith("/") and " " not in value:
                    url["path"] = value
                elif value is not None:
                    self.skip(child, f"path {value!r} does not start with '/'")
            elif key == "digest":
                value = self.one(child)
                if value is not None and re.fullmatch(r"[0-9a-fA-F]{32}", value):
                    url["digest"] = value.lower()
                elif value is not None:
                    self.skip(child, "not an MD5 digest (32 hex digits)")
            elif key == "status_code":
                codes = self.status_codes(child)
                if codes is not None:
                    url["status_code"] = codes
            elif key == "regex":
                value = self.one(child, _argv_text)
                if value is not None:
                    try:
                        re.compile(value)
                    except re.error as exc:
                        self.skip(child, f"not a Python regular expression: {exc}")
                    else:
                        url["regex"] = value
            elif key == "virtualhost":
                value = self.one(child)
                if value is not None and checker.setdefault("virtualhost", value) != value:
                    self.skip(child, "haipvs has one virtualhost per checker")
            else:
                self.skip(child)
        if "path" not in url:
            self.skip(node, "url without a path")
            return None
        return url

    def status_codes(self, node: Node) -> Any:
        codes: list[Any] = []
        for word in node.values:
            if re.fullmatch(r"[1-5][0-9][0-9]", word):
                codes.append(int(word))
            elif re.fullmatch(r"[1-5][0-9][0-9]-[1-5][0-9][0-9]", word):
                codes.append(word)
            else:
                self.skip(node, f"bad status code {word!r}")
        if not codes:
            return None
        return codes[0] if len(codes) == 1 else codes


CHECKERS = {
    "TCP_CHECK": "tcp_check",
    "HTTP_GET": "http_get",
    "SSL_GET": "ssl_get",
    "MISC_CHECK": "misc_check",
    "UDP_CHECK": "udp_check",
    "DNS_CHECK": "dns_check",
}
CONNECTING = ("tcp_check", "http_get", "ssl_get", "udp_check", "dns_check")


def _checker_block(checker: dict[str, Any]) -> Block:
    order = ("url", "path", "virtualhost", "http_protocol", "sni", "type", "name",
             "payload_hex", "require_reply", "connect_ip", "connect_port", "bindto",
             "connect_timeout", "timeout", "misc_dynamic", "user", "retry",
             "delay_before_retry", "delay_loop", "warmup", "alpha")
    return Block({k: checker[k] for k in order if k in checker})


def _address(text: str) -> str:
    return str(ipaddress.ip_address(text))


def _argv(tokens: list[Token]) -> list[str]:
    """A keepalived command: one quoted string holding the whole command line, or the
    words of the line. keepalived splits it like a shell (without running one)."""
    if len(tokens) == 1 and tokens[0].quoted:
        return shlex.split(tokens[0].text)
    return [t.text for t in tokens]


def _argv_text(text: str) -> str:
    return text


def _hex(text: str) -> str:
    cleaned = text.replace(":", "").replace(" ", "")
    bytes.fromhex(cleaned)
    return cleaned.lower()
