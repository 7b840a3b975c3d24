"""`haipvs status --stats` / `--rate` text as ipvsadm 1.31 prints it (ipvsadm.c print_title,
print_service_entry, print_largenum). The expected texts were printed by `ipvsadm -Ln
--stats` / `--rate` in the qemu guest for this very table (integration/qemu_tests/
test_ipvs_stats.py compares the two live)."""

from __future__ import annotations

import struct

from haipvs.ipvs.model import DestKey, IpvsInfo, ServiceKey
from haipvs.ipvs.stats import IpvsStats, ServiceStats, decode_stats, largenum, render_stats

INFO = IpvsInfo("1.2.1", 4096)
WEB = ServiceKey.inet("TCP", "192.0.2.100", 80)


def captured_table(rate: bool) -> list[ServiceStats]:
    def s(*numbers: int) -> IpvsStats:
        names = ("cps", "inpps", "outpps", "inbps", "outbps") if rate else (
            "conns", "inpkts", "outpkts", "inbytes", "outbytes")
        return IpvsStats(**dict(zip(names, numbers, strict=True)))

    # given out of order: the listing sorts as libipvs does (fwmark services after inet)
    return [
        ServiceStats(ServiceKey.mark(7), s(0, 0, 0, 0, 0),
                     ((DestKey("198.51.100.2", 0), s(0, 0, 0, 0, 0)),)),
        ServiceStats(WEB, s(*((1, 7, 7, 377, 417) if rate else (25, 125, 125, 7150, 7900))), (
            (DestKey("198.51.100.6", 8080),
             s(*((1, 3, 3, 196, 217) if rate else (13, 65, 65, 3718, 4108)))),
            (DestKey("198.51.100.2", 8080),
             s(*((1, 3, 3, 181, 200) if rate else (12, 60, 60, 3432, 3792)))))),
    ]


IPVSADM_STATS = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  192.0.2.100:80                     25      125      125     7150     7900
  -> 198.51.100.2:8080                  12       60       60     3432     3792
  -> 198.51.100.6:8080                  13       65       65     3718     4108
FWM  7                                   0        0        0        0        0
  -> 198.51.100.2:0                      0        0        0        0        0
"""

IPVSADM_RATE = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS
  -> RemoteAddress:Port
TCP  192.0.2.100:80                      1        7        7      377      417
  -> 198.51.100.2:8080                   1        3        3      181      200
  -> 198.51.100.6:8080                   1        3        3      196      217
FWM  7                                   0        0        0        0        0
  -> 198.51.100.2:0                      0        0        0        0        0
"""


def test_ipvsadm_ln_stats_layout():
    assert render_stats(captured_table(rate=False), INFO) == IPVSADM_STATS


def test_ipvsadm_ln_rate_layout():
    assert render_stats(captured_table(rate=True), INFO, rate=True) == IPVSADM_RATE


def test_print_largenum_shortens_past_eight_digits():
    assert largenum(99_999_999) == " 99999999"
    assert largenum(100_000_000) == "  100000K"
    assert largenum(999_999_999) == "  999999K"
    assert largenum(1_000_000_000) == "    1000M"
    assert largenum(99_999_999_999) == "   99999M"
    assert largenum(100_000_000_000) == "     100G"
    assert largenum(100_000_000_000_000) == "     100T"


def test_print_largenum_exact_widens_the_column():
    assert largenum(7, exact=True) == "        7"
    assert largenum(123_456_789_012, exact=True) == " 123456789012"


def test_rate_destination_line_prints_the_packet_rates_whole():
    # ipvsadm.c: "  -> %-28s %8u %8u %8u" then print_largenum for InBPS and OutBPS
    big = IpvsStats(cps=123_456_789, inpps=5, outpps=6, inbps=300_000_000, outbps=1)
    text = render_stats([ServiceStats(WEB, IpvsStats(), ((DestKey("198.51.100.2", 80), big),))],
                        rate=True)
    assert text.splitlines()[-1] == (
        "  -> 198.51.100.2:80              123456789        5        6  300000K        1")


def nla(kind: int, payload: bytes) -> bytes:
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def test_stats64_attribute_decodes_every_field():
    raw = b"".join(nla(i, struct.pack("=Q", 1000 + i)) for i in range(1, 11))
    raw += nla(11, b"")  # IPVS_STATS_ATTR_PAD
    assert decode_stats(raw) == IpvsStats(*(1000 + i for i in range(1, 11)))


def test_legacy_stats_attribute_mixes_u32_and_u64():
    # IPVS_*_ATTR_STATS: conns/pkts u32, bytes u64, rates u32
    formats = ["=I", "=I", "=I", "=Q", "=Q", "=I", "=I", "=I", "=I", "=I"]
    raw = b"".join(nla(i + 1, struct.pack(f, 2 ** 32 + i if f == "=Q" else i))
                   for i, f in enumerate(formats))
    stats = decode_stats(raw)
    assert (stats.conns, stats.inbytes, stats.outbytes, stats.outbps) == (0, 2 ** 32 + 3,
                                                                          2 ** 32 + 4, 9)
    assert decode_stats(None) == IpvsStats()
