"""A second, small keepalived.conf reader, independent of haipvs.importer, written from
keepalived 2.2.7's sources: lib/parser.c (the lexing half, in kaconf_lexer.py),
keepalived/check/ (check_parser.c, check_data.c validate_check_config(), the checkers'
defaults), keepalived/vrrp/ (vrrp_parser.c, vrrp.c vrrp_complete_instance(), vrrp_sync.c)
and core/global_parser.c (lvs_sync_daemon).

`read_conf(path)` says what keepalived would run, as {fact key: Fact(value, file, line)}; a
fact keepalived takes from a default carries the line of its block, and `lines` are the other
lines that wrote it. test_real_corpus.py compares these facts with the importer's output.
"""

from __future__ import annotations

import grp
import ipaddress
import pwd
import re
from dataclasses import dataclass, field

from tests.importer.kaconf_lexer import CHECKERS, Fact, Node, parse_tree

SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr",
              "sed", "nq", "twos")  # check_parser.c lvs_schedulers[], compared with strcmp
METHODS = {"NAT": "NAT", "DR": "DR", "TUN": "TUN"}  # svr_forwarding_handler(), strcmp
TRUE_FALSE = {"true": True, "on": True, "yes": True, "false": False, "off": False, "no": False}
# check_api.c alloc_checker(): retry 1, delay_before_retry 1 s; check_http.c: 3 s;
# check_misc.c: retry 0; check_dns.c: retry 3, delay_before_retry = delay_loop (None here).
RETRY = {"misc_check": 0, "dns_check": 3}
DELAY_BEFORE_RETRY = {"http_get": 3.0, "ssl_get": 3.0, "dns_check": None}
HTTP = ("http_get", "ssl_get")


# ---------------------------------------------------------------- facts

def _num(text: str | None, kind=float):
    try:
        return kind(text)
    except (TypeError, ValueError):
        return None


def _argv(node: Node) -> str:
    """A script as the words it runs (keepalived splits a quoted command line too)."""
    return " ".join(" ".join(node.words[1:]).split())


def _notify(node: Node) -> str | None:
    """lib/notify.c notify_script_init(): word 1 is the command line (split again); words
    2 and 3 are its user and group (set_script_uid_gid), and an unknown one makes keepalived
    ignore the script ("Invalid user/group for ... script")."""
    if len(node.words) < 2:
        return None
    user, group = node.arg(2), node.arg(3)
    try:
        if user is not None:
            pwd.getpwnam(user)
        if group is not None:
            grp.getgrnam(group)
    except KeyError:
        return None
    return " ".join(node.words[1].split())


def _vip(text: str) -> str | None:
    return _num(text, lambda t: str(ipaddress.ip_interface(t)))


def _tunnel(rs: Node, vs_method: str) -> bool:
    methods = [n.arg() for n in rs.kids("lvs_method") if n.arg() in METHODS]
    return (methods[-1] if methods else vs_method) == "TUN"


def _addr(text: str | None) -> str | None:
    """inet_stosockaddr() (lib/utils.c): an address, ignoring any '-range' or '/prefix'."""
    return _num(re.split(r"[-/]", text or "")[0], lambda t: str(ipaddress.ip_address(t)))


def _prefix(text: str) -> int | None:
    return _num(text, lambda t: ipaddress.ip_network(f"0.0.0.0/{t}").prefixlen
                if "." in t else int(t))


@dataclass
class Reader:
    facts: dict[str, Fact] = field(default_factory=dict)
    strict: bool = False  # global_defs vrrp_strict
    version: int = 2  # global_defs vrrp_version
    unweighted: set[str] = field(default_factory=set)  # instances whose weights are ignored

    def put(self, key: str, value, node: Node, parts: list[Node] = ()) -> None:
        self.facts[key] = Fact(value, node.file, node.line, tuple(p.line for p in parts))

    def setting(self, key: str, block: Node, names, convert, default) -> Node | None:
        """The last valid `names` line, else the default; any line written counts for a note
        (keepalived ignores an invalid value and keeps the earlier or default one)."""
        written = [n for n in block.kids() if n.key in (names if isinstance(names, tuple)
                                                         else (names,))]
        valid = [(n, v) for n in written if (v := convert(n)) is not None]
        node, value = valid[-1] if valid else (None, default)
        self.put(key, value, node or (written[-1] if written else block), written)
        return node

    # ---- VRRP (vrrp_parser.c)
    def vrrp_instance(self, node: Node, sync_seen: list) -> None:
        k = f"vrrp {node.arg()}"
        self.put(k, True, node)
        blocks = node.kids("virtual_ipaddress") + node.kids("virtual_ipaddress_excluded")
        entries = [v for b in blocks for v in b.kids()]
        vips = set(filter(None, (_vip(v.key) for v in entries)))  # a second copy is ignored
        self.put(f"{k}.virtual_ipaddress", tuple(sorted(vips)), node, blocks + entries)
        v6 = any(":" in v for v in vips)
        self.setting(f"{k}.virtual_router_id", node, "virtual_router_id",
                     lambda n: _num(n.arg(), int), None)
        self.setting(f"{k}.interface", node, "interface", lambda n: n.arg(), None)
        self.setting(f"{k}.advert_int", node, "advert_int",
                     lambda n: a if (a := _num(n.arg())) and a > 0 else None, 1.0)
        self.setting(f"{k}.version", node, "version",  # IPv6 is 3, else global vrrp_version
                     lambda n: 3 if v6 else _num(n.arg(), int), 3 if v6 else self.version)
        # vrrp_state_handler(): MASTER, else BACKUP ("unknown state ..., defaulting to BACKUP")
        states = node.kids("state")
        master = next((n for n in states if n.arg() == "MASTER"), None)
        want = ("MASTER" if master else "BACKUP") if states else None
        prio_nodes = node.kids("priority")
        # "Priority not valid! must be between 1 & 255. Using default 100"
        prio = (p if (p := _num(prio_nodes[-1].arg(), int)) and 1 <= p <= 255 else 100) \
            if prio_nodes else None
        # vrrp.c vrrp_complete_instance(): an unset priority follows the state (MASTER: 255),
        # an unset state follows the priority; strict mode makes them agree
        prio = prio or (255 if want == "MASTER" else 100)
        strict = node.first("strict_mode") is not None or self.strict
        if want is None or strict:
            want = "MASTER" if prio == 255 else "BACKUP"
        auth, auth_v = node.last("authentication"), None
        if auth is not None and not v6 and not strict and self.facts[f"{k}.version"].value == 2:
            typ, pw = auth.last("auth_type"), auth.last("auth_pass")
            if typ is not None and typ.arg() in ("PASS", "AH") and pw and pw.arg():
                # vrrp_auth_pass_handler(): the password is truncated to 8 bytes
                auth_v = (typ.arg(), pw.arg()[:8])
                self.put(f"{k}.authentication", auth_v, auth, auth.kids())
        if auth_v and auth_v[0] == "AH" and want == "MASTER" and prio != 255:
            want = "BACKUP"  # "Initial state master is incompatible with AH authentication"
        self.put(f"{k}.priority", prio, node, prio_nodes + states)
        if prio == 255:
            self.unweighted.add(node.arg())
        self.put(f"{k}.state", want, node, states + prio_nodes)
        # vrrp.c:3100-3135: nopreempt is cleared for the owner and for an initial MASTER;
        # preempt_delay for an initial MASTER, in strict mode and with nopreempt
        nopreempt = node.kids("nopreempt")
        preempt = not nopreempt or prio == 255 or want == "MASTER"
        self.put(f"{k}.preempt", preempt, node, nopreempt + states)
        delays = node.kids("preempt_delay")
        d = _num(delays[-1].arg()) if delays else None
        d = 0.0 if not d or want == "MASTER" or strict or not preempt else d
        self.put(f"{k}.preempt_delay", d, node, delays + states + nopreempt)
        # vrrp_srcip_handler(): mcast_src_ip and unicast_src_ip both set the source address
        self.setting(f"{k}.unicast_src_ip", node, ("unicast_src_ip", "mcast_src_ip"),
                     lambda n: _addr(n.arg()), None)
        peers = [p for b in node.kids("unicast_peer") for p in b.kids()]
        self.put(f"{k}.unicast_peers", tuple(sorted({_addr(p.key) or p.key for p in peers})),
                 node, peers)
        # alloc_track_script() looks the script up while parsing: one defined further down the
        # file is "not found, ignoring...", and a second reference is a "duplicate"
        scripts = [s for b in node.kids("track_script") for s in b.kids()]
        refs = tuple(sorted({s.key: (s.key, _num(s.arg(2), int) if s.arg() == "weight" else None)
                             for s in reversed(scripts)
                             if f"vrrp_script {s.key}" in self.facts}.values()))
        self.put(f"{k}.track_script", refs, node, scripts)
        self.notify(k, node)
        syncd = node.first("lvs_sync_daemon_interface")
        if syncd is not None and not sync_seen:
            sync_seen.append((syncd.arg(), node.arg(), None, syncd, *(None,) * 4))

    def notify(self, k: str, node: Node) -> None:
        for what in ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify"):
            self.setting(f"{k}.{what}", node, what, _notify, None)

    def vrrp_script(self, node: Node) -> None:
        k = f"vrrp_script {node.arg()}"
        self.put(k, True, node)
        self.setting(f"{k}.script", node, "script", _argv, None)
        self.setting(f"{k}.interval", node, "interval", lambda n: _num(n.arg()), 1.0)
        self.setting(f"{k}.weight", node, "weight", lambda n: _num(n.arg(), int), 0)
        self.setting(f"{k}.rise", node, "rise", lambda n: _num(n.arg(), int), 1)
        self.setting(f"{k}.fall", node, "fall", lambda n: _num(n.arg(), int), 1)

    def sync_group(self, node: Node, claimed: set[str], unweighted: bool) -> None:
        """vrrp_sync_set_group(): members are existing instances not yet in a group; a group
        left without one is removed ("no matching virtual router found")."""
        k = f"vrrp_sync_group {node.arg()}"
        written = [m for g in node.kids("group") for m in g.kids()]
        members = []
        for m in written:
            if self.facts.get(f"vrrp {m.key}", Fact(False, "", 0)).value and m.key not in claimed:
                members.append(m.key)
                claimed.add(m.key)
                if unweighted:
                    self.unweighted.add(m.key)
        self.put(k, bool(members), node)
        if members:
            self.put(f"{k}.group", tuple(members), node.first("group") or node, written)
            self.notify(k, node)

    # ---- LVS (check_parser.c, check_data.c)
    def virtual_server(self, node: Node, groups: dict[str, list[Node]]) -> None:
        rss = node.kids("real_server")
        if len(node.words) < 2:
            return
        if not rss or (node.arg() not in ("group", "fwmark") and _addr(node.arg()) is None):
            # validate_check_config(): "has no real servers - ignoring"; alloc_vs(): "Invalid
            # virtual server IP address ... - skipping"
            self.put(_unique(self.facts, "vs " + " ".join(node.words[1:3])), False, node)
            return
        if node.arg() == "group":  # one service per group entry (ipvswrapper.c ipvs_group_cmd)
            services = [(f"fwmark {m.arg()}", None, True) if m.key == "fwmark" else
                        (f"{a} {_num(m.arg(), int) or 0}", _num(m.arg(), int) or 0, False)
                        for m in groups.get(node.arg(2), [])
                        for a in ([None] if m.key == "fwmark" else _range(m.key))]
        elif node.arg() == "fwmark":
            services = [(f"fwmark {node.arg(2)}", None, True)]
        else:
            port = _num(node.arg(2, "0"), int) or 0
            services = [(f"{_addr(node.arg())} {port}", port, False)]
        for name, port, fwmark in services:
            k = _unique(self.facts, f"vs {name}")
            self.put(k, True, node)
            self.service(k, node, rss, port, fwmark, node.arg() == "group")

    def service(self, k, node, rss, vs_port, fwmark, grouped) -> None:
        if fwmark:  # "protocol specified for fwmark - protocol will be ignored"
            self.put(f"{k}.protocol", None, node, node.kids("protocol"))
        else:  # proto_handler() (strcasecmp); "no protocol set - defaulting to UDP"
            self.setting(f"{k}.protocol", node, "protocol", lambda n: (n.arg() or "").upper()
                         if (n.arg() or "").upper() in ("TCP", "UDP", "SCTP") else None, "UDP")
        self.setting(f"{k}.lb_algo", node, ("lb_algo", "lvs_sched"),
                     lambda n: n.arg() if n.arg() in SCHEDULERS else None, "wlc")
        self.setting(f"{k}.lb_kind", node, ("lb_kind", "lvs_method"),
                     lambda n: n.arg() if n.arg() in METHODS else None, "NAT")
        method = self.facts[f"{k}.lb_kind"].value
        # pto_handler(): no value means 360, 0 or junk is "invalid" and ignored
        self.setting(f"{k}.persistence_timeout", node, "persistence_timeout",
                     lambda n: 360 if len(n.words) < 2 else t if (
                         t := _num(n.arg(), int)) and 1 <= t <= 2678400 else None, None)
        if self.facts[f"{k}.persistence_timeout"].value is None and not (
                fwmark or vs_port or grouped):  # "zero port only valid for persistent services"
            self.put(f"{k}.persistence_timeout", 360, node, node.kids("persistence_timeout"))
        if self.facts[f"{k}.persistence_timeout"].value:
            # pgr_handler(): a dotted IPv4 netmask or an IPv6 prefix length; ipvswrapper.c
            # sends the netmask only with a timeout
            self.setting(f"{k}.persistence_granularity", node, "persistence_granularity",
                         lambda n: _prefix(n.arg() or ""), None)
        self.setting(f"{k}.delay_loop", node, "delay_loop", lambda n: _num(n.arg()), 60.0)
        vs_inhibit = node.last("inhibit_on_failure") is not None
        weight_sum, seen = 0, {}
        # an IPv6 service? a fwmark one takes the family of its first non-tunnel real server
        family = ":" in k.split()[1] if not fwmark else next(
            (":" in a for r in rss if (a := _addr(r.arg())) and not _tunnel(r, method)), None)
        for rs in rss:
            rk = self.real_server(k, node, rs, method, vs_port, fwmark, vs_inhibit, seen, family)
            weight_sum += self.facts[f"{rk}.weight"].value if rk else 0
        if not any(key.startswith(f"{k}.rs ") for key in self.facts):
            # every real server skipped: "has no real servers - ignoring"
            self.facts = {key: f for key, f in self.facts.items()
                          if not key.startswith(f"{k}.")}
            self.put(k, False, node)
            return
        # quorum_handler(): invalid means 1; validate_check_config() lowers it to the total
        # weight ("exceeds total weight of real servers") and hysteresis below the quorum
        self.setting(f"{k}.quorum", node, "quorum",
                     lambda n: q if (q := _num(n.arg(), int)) and q >= 1 else 1, 1)
        quorum = min(self.facts[f"{k}.quorum"].value, weight_sum)
        self.put(f"{k}.quorum", quorum, node, node.kids("quorum"))
        self.setting(f"{k}.hysteresis", node, "hysteresis", lambda n: _num(n.arg(), int), 0)
        hyst = min(self.facts[f"{k}.hysteresis"].value, max(quorum - 1, 0))
        self.put(f"{k}.hysteresis", hyst, node, node.kids("hysteresis"))
        ss = node.last("sorry_server")
        if ss is not None and _addr(ss.arg()) is not None:
            port = _num(ss.arg(2, "0"), int) or 0
            ssm = [n.arg() for n in node.kids("sorry_server_lvs_method") if n.arg() in METHODS]
            if (ssm[-1] if ssm else method) != "NAT" or not port:
                port = None if fwmark else vs_port
            self.put(f"{k}.sorry_server", f"{_addr(ss.arg())} {port}", ss)

    def real_server(self, k, vs, rs, vs_method, vs_port, fwmark, vs_inhibit, seen, family):
        addr, port = _addr(rs.arg()), _num(rs.arg(2, "0"), int) or 0
        if addr is None or (addr, port) in seen or (
                not _tunnel(rs, vs_method) and family not in (None, ":" in addr)):
            # "Invalid real server ip address", "Address family of virtual server and real
            # server ... don't match - skipping", "real server ... is duplicated - removing"
            return None
        seen[(addr, port)] = rs
        rk = f"{k}.rs {addr}#{sum(1 for a, _ in seen if a == addr) - 1}"
        self.put(rk, True, rs)
        self.setting(f"{rk}.lb_kind", rs, "lvs_method",
                     lambda n: n.arg() if n.arg() in METHODS else None, vs_method)
        method = self.facts[f"{rk}.lb_kind"].value
        # ipvswrapper.c: DR/TUN use the service's port (0 for a fwmark); NAT keeps its own,
        # and a NAT port 0 makes IPVS keep the packet's port (the service port for an address)
        eff = (None if fwmark else vs_port) if method != "NAT" or not port else port
        self.put(f"{rk}.port", eff, rs)
        # rs_weight_handler(): 0..; unset or invalid takes the service's `weight` (default 1)
        vsw = [w for n in vs.kids("weight") if (w := _num(n.arg(), int)) and w >= 1]
        self.setting(f"{rk}.weight", rs, "weight", lambda n: w if (
            w := _num(n.arg(), int)) is not None and w >= 0 else None, vsw[-1] if vsw else 1)
        # rs_inhibit_handler(): an optional true/false (check_true_false()); else the service's
        self.setting(f"{rk}.inhibit_on_failure", rs, "inhibit_on_failure", lambda n: TRUE_FALSE.get(
            n.arg()) if len(n.words) > 1 else True, vs_inhibit)
        # misc_end_handler(): "No script path has been specified for MISC_CHECKER - skipping"
        checks = [h for c in rs.kids() if c.key in CHECKERS
                  and (c.key != "MISC_CHECK" or c.first("misc_path") is not None)
                  for h in smtp_hosts(c)]
        self.put(f"{rk}.checkers", tuple(sorted(CHECKERS[c.key] for c in checks)),
                 checks[0] if checks else rs, checks)
        kinds: list[str] = []
        for c in checks:
            kinds.append(CHECKERS[c.key])
            ck = f"{rk}.{kinds[-1]}#{kinds.count(kinds[-1]) - 1}"
            self.checker(ck, kinds[-1], c, rs, vs)
        return rk

    def checker(self, ck, kind, c, rs, vs) -> None:
        self.put(ck, True, c)
        # check_data.c:1356-1369: checker <- real server <- service <- the checker's default;
        # nb_get_retry only exists in HTTP_GET/SSL_GET (check_http.c), elsewhere "Unknown"
        delay = DELAY_BEFORE_RETRY.get(kind, 1.0)
        for name, default in (("retry", RETRY.get(kind, 1)), ("delay_before_retry", delay if
                              delay is not None else self.facts[f"{ck.split('.rs ')[0]}."
                                                                "delay_loop"].value),
                              ("connect_timeout", None if kind == "misc_check" else 5.0)):
            keys = (name, "nb_get_retry") if name == "retry" and kind in HTTP else (name,)
            n = next((x for b in (c, rs, vs) for x in reversed(b.kids()) if x.key in (
                keys if b is c else (name,)) and _num(x.arg()) is not None), None)
            value = _num(n.arg(), int if name == "retry" else float) if n else default
            if value is not None:  # a note on nb_get_retry that keepalived rejects counts too
                self.put(f"{ck}.{name}", value, n or c,
                         c.kids("nb_get_retry") if name == "retry" and not n else [])
        port = c.last("connect_port")
        if port is not None and kind != "misc_check":
            self.put(f"{ck}.connect_port", _num(port.arg(), int), port)
        if kind in HTTP:
            urls = []
            for u in c.kids("url"):
                path, digest = u.last("path"), u.last("digest")
                codes = status_ranges([w for s in u.kids("status_code") for w in s.words[1:]])
                urls.append((path.arg() if path else None,
                             digest.arg().lower() if digest else None, codes))
            self.put(f"{ck}.urls", tuple(urls), c.first("url") or c, c.kids("url"))
        if kind == "misc_check":  # check_misc.c: no (or 0) misc_timeout means the delay_loop
            self.setting(f"{ck}.misc_path", c, "misc_path", _argv, None)
            self.setting(f"{ck}.misc_timeout", c, "misc_timeout", lambda n: _num(n.arg()) or None,
                         self.facts[f"{ck.split('.rs ')[0]}.delay_loop"].value)
            self.put(f"{ck}.misc_dynamic", bool(c.kids("misc_dynamic")), c, c.kids("misc_dynamic"))


# check_api.c install_checker_common_keywords(true): the connection keywords
CONNECTION = ("connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "fwmark",
              "connect_timeout")


def smtp_hosts(c: Node) -> list[Node]:
    """check_smtp.c smtp_check_end_handler(): every host { } block is one more checker with
    the SMTP_CHECK's settings and the host's connection (its other keywords set the
    SMTP_CHECK's); the first host replaces the checker's own connection unless the SMTP_CHECK
    gives a connection keyword. A host's conn_opts is PMALLOCed (smtp_host_handler), so its
    connect_timeout is 0 unless it gives one."""
    hosts = c.kids("host") if c.key == "SMTP_CHECK" else []
    if not hosts:
        return [c]
    shared = [k for k in c.kids() if k.key not in CONNECTION and k.key != "host"] + [
        k for h in hosts for k in h.kids() if k.key not in CONNECTION]
    made = [Node(["SMTP_CHECK"], h.file, h.line, shared + [
        k for k in h.kids() if k.key in CONNECTION] + (
        [] if h.kids("connect_timeout") else [Node(["connect_timeout", "0"], h.file, h.line)]))
        for h in hosts]
    own = any(k.key in CONNECTION for k in c.kids())
    return [c, *made] if own else made


def _unique(facts: dict, key: str) -> str:
    """Two services on one address and port (TCP and UDP) get '#2', '#3'..."""
    return next(k for n in range(1, 99) if (k := f"{key}#{n}" if n > 1 else key) not in facts)


def status_ranges(words: list[str]) -> tuple[tuple[int, int], ...]:
    """status_code 200 / 200-299 / several; none means 200-299 (check_http.c)."""
    pairs = {(int(lo), int(hi or lo)) for lo, _, hi in (w.partition("-") for w in words)
             if lo.isdigit() and (hi or "0").isdigit()}
    return tuple(sorted(pairs)) or ((200, 299),)


def _range(text: str) -> list[str]:
    """A virtual_server_group 'a.b.c.d-e' range (check_data.c alloc_vsg_entry())."""
    lo, _, hi = text.partition("-")
    start = ipaddress.ip_address(lo)
    step = 0xffff if start.version == 6 else 0xff
    last = (int(hi, 16) if start.version == 6 else int(hi)) if hi else int(start) & step
    return [str(ipaddress.ip_address((int(start) & ~step) + i))
            for i in range(int(start) & step, last + 1)]


def read_conf(path: str) -> dict[str, Fact]:
    """What keepalived 2.2.7 would run from `path`, as {fact key: Fact}."""
    tree = parse_tree(path)
    reader = Reader()
    groups = {n.arg(): n.kids() for n in tree if n.key == "virtual_server_group" and n.arg()}
    syncd: list = []
    groups_seen: list[Node] = []
    reader.strict = any(g.first("vrrp_strict") for g in tree if g.key == "global_defs")
    reader.version = ([v for g in tree if g.key == "global_defs" for n in g.kids("vrrp_version")
                       if (v := _num(n.arg(), int)) in (2, 3)] or [2])[-1]
    for s in [s for g in tree if g.key == "global_defs" for s in g.kids("lvs_sync_daemon")]:
        # lvs_syncd_handler(): "already specified - ignoring", "requires interface", "name
        # too long - ignoring" (IP_VS_IFNAME_MAXLEN 16)
        if syncd or len(s.words) < 2 or len(s.arg()) > 15:
            continue
        syncd.append(_syncd_words(s))
    for node in tree:
        # vrrp_handler(), vrrp_sync_group_handler(): "already defined", the first one counts
        if node.key == "vrrp_instance" and len(node.words) == 2:
            vrid = node.last("virtual_router_id")
            if not _num(vrid.arg() if vrid else None, int):
                # vrrp.c chk_min_cfg(): "the virtual router id must be set", and the VRRP
                # process does not start
                reader.put(f"vrrp {node.arg()}", False, node)
            elif f"vrrp {node.arg()}" not in reader.facts:
                reader.vrrp_instance(node, syncd)
        elif node.key == "vrrp_script" and node.arg():
            if f"vrrp_script {node.arg()}.script" not in reader.facts:  # the first one counts
                reader.vrrp_script(node)
        elif node.key == "vrrp_sync_group" and node.arg():
            if node.arg() not in [g.arg() for g in groups_seen]:  # "already defined"
                groups_seen.append(node)
        elif node.key == "virtual_server":
            reader.virtual_server(node, groups)
    claimed: set[str] = set()
    for node in groups_seen:  # vrrp_complete_init(), after the whole file is read
        reader.sync_group(node, claimed, not any(  # also the deprecated global_tracking
            node.kids(k) for k in ("sync_group_tracking_weight", "global_tracking")))
    for name in reader.unweighted:
        # vrrp.c vrrp_complete_instance(): in a sync group (without sync_group_tracking_weight)
        # or as address owner, "ignoring tracked script %s with weights" drops weighted scripts
        f = reader.facts[f"vrrp {name}.track_script"]
        kept = tuple((n, w) for n, w in f.value if (w if w is not None else reader.facts[
            f"vrrp_script {n}.weight"].value) == 0)
        reader.facts[f"vrrp {name}.track_script"] = Fact(kept, f.file, f.line, f.lines)
    if syncd:
        iface, inst, sid, node, *options = syncd[0]
        vrid = reader.facts.get(f"vrrp {inst}.virtual_router_id")
        # vrrp.c vrrp_complete_init(): an unknown instance clears the sync daemon, no id means
        # the VRID; without an instance check_daemon.c start_check uses id 0
        if inst is None or vrid is not None:
            reader.put("lvs_sync_daemon", (iface, inst, sid if sid is not None else
                                           (vrid.value if vrid else 0), *options), node)
    return reader.facts


def _syncd_words(s: Node) -> tuple:
    """lvs_sync_daemon IF [inst N] [id N] [maxlen N] [port N] [ttl N] [group A], or the
    old IF NAME [ID]: (iface, inst, id, node, maxlen, port, ttl, group). A bad value is
    ignored (the default stays), as lvs_syncd_handler() does."""
    ranges = {"id": (0, 255), "maxlen": (1, 65507), "port": (1, 65535), "ttl": (1, 255)}
    got: dict = {}
    w = s.words
    i = 2
    while i < len(w):
        key = w[i]
        if key in (*ranges, "inst", "group") and i + 1 < len(w):
            v = w[i + 1]
            if key == "inst":
                got.setdefault("inst", v)
            elif key == "group":
                try:
                    if ipaddress.ip_address(v).is_multicast:
                        got["group"] = str(ipaddress.ip_address(v))
                except ValueError:
                    pass
            elif v.isdigit() and ranges[key][0] <= int(v) <= ranges[key][1]:
                got[key] = int(v)
            i += 2
            continue
        if i == 2:
            got["inst"] = key
        elif i == 3 and key.isdigit() and int(key) <= 255:
            got["id"] = int(key)
        i += 1
    return (s.arg(), got.get("inst"), got.get("id"), s,
            *(got.get(k) for k in ("maxlen", "port", "ttl", "group")))
