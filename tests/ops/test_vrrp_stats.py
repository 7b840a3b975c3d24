"""haipvs.stats (SIGUSR2) is keepalived's /tmp/keepalived.stats block for block, with haipvs's
named drops below it. The keepalived lines are checked against the fprintf format strings of
keepalived 2.2.7 keepalived/vrrp/vrrp_print.c `vrrp_print_stats`, copied here verbatim (and
compared with the source itself when the keepalived mirror is on this machine)."""

import re
import subprocess
from pathlib import Path

import pytest

from haipvs.vrrp.counters import InstanceCounters, InterfaceCounters
from haipvs.vrrp.validate import DropReason, Note
from haipvs.vrrp_stats import InstanceStats, InterfaceStats, VrrpStats, render_stats

# keepalived 2.2.7 keepalived/vrrp/vrrp_print.c, vrrp_print_stats(), in order; built with
# _WITH_VRRP_AUTH_ (Debian's keepalived 2.2.7 reports "VRRP_AUTH" in `keepalived -v`). Each
# entry: the format string and the stats field it prints.
KEEPALIVED_FPRINTFS: tuple[tuple[str, str | None], ...] = (
    ('"VRRP Instance: %s\\n"', "iname"),
    ('"  Advertisements:\\n"', None),
    ('"    Received: %" PRIu64 "\\n"', "advert_rcvd"),
    ('"    Sent: %u\\n"', "advert_sent"),
    ('"  Became master: %u\\n"', "become_master"),
    ('"  Released master: %u\\n"', "release_master"),
    ('"  Packet Errors:\\n"', None),
    ('"    Length: %" PRIu64 "\\n"', "packet_len_err"),
    ('"    TTL: %" PRIu64 "\\n"', "ip_ttl_err"),
    ('"    Invalid Type: %" PRIu64 "\\n"', "invalid_type_rcvd"),
    ('"    Advertisement Interval: %" PRIu64 "\\n"', "advert_interval_err"),
    ('"    Address List: %" PRIu64 "\\n"', "addr_list_err"),
    ('"  Authentication Errors:\\n"', None),
    ('"    Invalid Type: %u\\n"', "invalid_authtype"),
    ('"    Type Mismatch: %u\\n"', "authtype_mismatch"),
    ('"    Failure: %u\\n"', "auth_failure"),
    ('"  Priority Zero:\\n"', None),
    ('"    Received: %" PRIu64 "\\n"', "pri_zero_rcvd"),
    ('"    Sent: %" PRIu64 "\\n"', "pri_zero_sent"),
)
MIRROR = Path("/work/.mirror/acassen+keepalived/repo")


def c_printf(fmt: str, value: object) -> str:
    """The line one of the format strings above prints."""
    text = fmt.replace('" PRIu64 "', "u").strip('"').replace("\\n", "\n")
    return re.sub(r"%[su]", lambda _m: str(value), text)


def keepalived_block(name: str, **fields: int) -> str:
    values = {"iname": name, **fields}
    return "".join(c_printf(fmt, values.get(field, 0) if field else None)
                   for fmt, field in KEEPALIVED_FPRINTFS)


def test_the_format_strings_are_keepalived_2_2_7s():
    if not (MIRROR / "HEAD").exists():
        pytest.skip("keepalived's source mirror is not on this machine")
    source = subprocess.run(
        ["git", "-C", str(MIRROR), "show", "v2.2.7:keepalived/vrrp/vrrp_print.c"],
        capture_output=True, text=True, check=True).stdout
    body = source[source.index("vrrp_print_stats(bool clear_stats)"):]
    body = body[:body.index("if (clear_stats)")]
    formats = re.findall(r'fprintf\(file,\s*("(?:[^"\\]|\\.)*"(?:\s*PRIu64\s*"[^"]*")?)', body)
    assert tuple(" ".join(f.split()) for f in formats) == tuple(
        " ".join(f.split()) for f, _ in KEEPALIVED_FPRINTFS)


def counters(**values: int) -> InstanceCounters:
    c = InstanceCounters()
    for name, value in values.items():
        if name in {str(r) for r in DropReason}:
            c.drops[name] = value
        elif name in {str(n) for n in Note}:
            c.notes[name] = value
        else:
            setattr(c, name, value)
    return c


def test_an_instance_block_starts_with_keepalived_s_lines_and_maps_each_drop():
    c = counters(adverts_received=120, adverts_sent=7, became_master=2, released_master=1,
                 priority_zero_received=3, priority_zero_sent=1, short_packet=1, length=2,
                 ttl=4, type=5, interval_mismatch=6, zero_interval=1, vip_mismatch=8,
                 no_addresses=1, auth_type=9, auth_mismatch=10, checksum=11, version=12,
                 interval_adopted=13)
    text = render_stats(VrrpStats((InstanceStats.of("VI_1", c),)))
    expected = keepalived_block(
        "VI_1", advert_rcvd=120, advert_sent=7, become_master=2, release_master=1,
        packet_len_err=3, ip_ttl_err=4, invalid_type_rcvd=5, advert_interval_err=7,
        addr_list_err=9, invalid_authtype=0, authtype_mismatch=9, auth_failure=10,
        pri_zero_rcvd=3, pri_zero_sent=1)
    assert text.startswith(expected)
    rest = text[len(expected):].splitlines()
    # Every drop reason of the ladder by name, in the ladder's declaration order, then notes.
    assert rest[0] == "  Dropped by reason:"
    drops = rest[1:1 + len(DropReason)]
    assert [line.split(":")[0].strip() for line in drops] == [str(r) for r in DropReason]
    assert "    checksum: 11" in drops and "    version: 12" in drops
    assert "    unknown_peer: 0" in drops
    assert rest[1 + len(DropReason)] == "  Accepted with note:"
    assert rest[2 + len(DropReason):] == [f"    {n}: {13 if n == 'interval_adopted' else 0}"
                                          for n in Note]


def test_instances_in_order_then_interfaces():
    iface = InterfaceCounters(received=50)
    iface.drops[str(DropReason.UNKNOWN_VRID)] = 4
    stats = VrrpStats((InstanceStats.of("VI_B", InstanceCounters()),
                       InstanceStats.of("VI_A", InstanceCounters())),
                      (InterfaceStats.of("eth0/ipv4", iface),))
    lines = render_stats(stats).splitlines()
    assert [line for line in lines if line.startswith("VRRP Instance: ")] == [
        "VRRP Instance: VI_B", "VRRP Instance: VI_A"]
    at = lines.index("Interface: eth0/ipv4")
    assert lines[at + 1:at + 3] == ["  Received: 50", "  Dropped by reason:"]
    assert "    unknown_vrid: 4" in lines[at + 3:]
    assert render_stats(VrrpStats()) == ""


def test_stats_clear_counts_from_the_baseline_and_keeps_the_counters():
    c = counters(adverts_sent=10, ttl=2)
    baseline = VrrpStats((InstanceStats.of("VI_1", c),))
    c.adverts_sent = 15
    c.drops["ttl"] = 3
    now = VrrpStats((InstanceStats.of("VI_1", c), InstanceStats.of("VI_NEW", counters(
        adverts_sent=4))))
    shown = now.minus(baseline)
    assert shown.instances[0].adverts_sent == 5 and shown.instances[0].drops["ttl"] == 1
    assert shown.instances[1].adverts_sent == 4  # added by a reload since the clear
    assert c.adverts_sent == 15  # the live counters (and the metrics) are untouched
    assert now.minus(None) is now


def documented_example() -> str:
    """The example block of docs/operations.md "Statistics (`haipvs.stats`, SIGUSR2)"."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    section = doc[doc.index("### Statistics (`haipvs.stats`, SIGUSR2)"):]
    return section.split("```\n", 2)[1]


def test_the_documented_example_is_what_the_formatter_writes():
    c = counters(adverts_sent=152, became_master=1)
    stats = VrrpStats((InstanceStats.of("VI_1", c),),
                      (InterfaceStats.of("eth0/ipv4", InterfaceCounters()),))
    assert render_stats(stats) == documented_example()
