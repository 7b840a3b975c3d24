"""The IPVS codec: NLA layout by hand, byte-equality with pyroute2's encoding of the same
uapi (tests/ipvs/pyroute2_ipvs.py, an independent reference), and captured kernel replies."""

import struct
from pathlib import Path

import pytest

from haipvs.ipvs import codec
from haipvs.ipvs import protocol as k
from haipvs.ipvs.model import (
    AF_INET6,
    Destination,
    ForwardMethod,
    Service,
    ServiceKey,
    SyncDaemonConfig,
    SyncState,
    Timeouts,
    TunnelType,
)
from haipvs.ipvs.ops import Op, OpKind, StartSyncDaemon, encode_op, encode_side_op
from tests.ipvs import pyroute2_ipvs as ref
from tests.ipvs.ipvs_samples import sample_table

DATA = Path(__file__).parent / "data"
FAMILY_ID = 0x21


def pyroute2_bytes(op: Op, seq: int = 7) -> bytes:
    msg, flags = ref.op_message(op)
    msg["header"].update(type=FAMILY_ID, flags=flags, sequence_number=seq, pid=0)
    msg.encode()
    return bytes(msg.data)


def nla(kind: int, payload: bytes) -> bytes:
    return struct.pack("=HH", 4 + len(payload), kind) + payload + b"\0" * (-len(payload) % 4)


def test_add_dest_layout_matches_the_uapi_by_hand():
    svc = Service(ServiceKey.inet("tcp", "192.0.2.100", 80), "wrr")
    dest = Destination("198.51.100.10", 8080, ForwardMethod.DR, weight=3, u_threshold=10,
                       l_threshold=2)
    service_nla = nla(1, (
        nla(1, struct.pack("=H", 2))  # AF_INET
        + nla(2, struct.pack("=H", 6))  # IPPROTO_TCP
        + nla(3, bytes([192, 0, 2, 100]))  # address, network order
        + nla(4, struct.pack("!H", 80))  # port, network order
    ))
    dest_nla = nla(2, (
        nla(1, bytes([198, 51, 100, 10]))
        + nla(2, struct.pack("!H", 8080))
        + nla(3, struct.pack("=I", 3))  # IP_VS_CONN_F_DROUTE
        + nla(4, struct.pack("=I", 3))  # weight
        + nla(5, struct.pack("=I", 10))  # u_threshold
        + nla(6, struct.pack("=I", 2))  # l_threshold
        + nla(11, struct.pack("=H", 2))  # address family
        + nla(13, b"\0")  # tun_type ipip
        + nla(14, b"\0\0")  # tun_port
        + nla(15, b"\0\0")  # tun_flags
    ))
    body = struct.pack("=BBH", k.CMD_NEW_DEST, 1, 0) + service_nla + dest_nla
    # NLM_F_REQUEST|NLM_F_ACK|NLM_F_EXCL|NLM_F_CREATE
    header = struct.pack("=IHHII", 16 + len(body), FAMILY_ID, 0x1 | 0x4 | 0x200 | 0x400, 7, 0)
    expected = header + body
    op = Op(OpKind.ADD_DEST, svc, dest)
    assert pyroute2_bytes(op) == expected
    assert encode_op(op, FAMILY_ID, 7) == expected


def test_service_netmask_and_flags_encoding():
    v4 = Service(ServiceKey.inet("udp", "192.0.2.1", 53), "rr", persistence_timeout=50,
                 netmask=24)
    v6 = Service(ServiceKey.inet("udp", "2001:db8::1", 53), "rr")
    raw4 = encode_op(Op(OpKind.ADD_SERVICE, v4), FAMILY_ID, 7)
    # IPv4 netmask: the mask's bytes; flags: PERSISTENT with a full mask; timeout 50.
    assert nla(9, bytes([255, 255, 255, 0])) in raw4
    assert nla(7, struct.pack("=II", 0x1, 0xFFFFFFFF)) in raw4
    assert nla(8, struct.pack("=I", 50)) in raw4
    # IPv6 "netmask" is the prefix length as a host-order u32 (what the kernel compares).
    # Read as IPv4 that is "128.0.0.0" (what ipvsadm shows for an IPv6 service).
    assert nla(9, bytes([128, 0, 0, 0])) in encode_op(Op(OpKind.ADD_SERVICE, v6), FAMILY_ID, 7)


def all_ops():
    for svc in sample_table():
        bare = svc.without_destinations()
        yield Op(OpKind.ADD_SERVICE, bare)
        yield Op(OpKind.SET_SERVICE, bare)
        yield Op(OpKind.DEL_SERVICE, bare)
        for d in svc.destinations:
            for kind in (OpKind.ADD_DEST, OpKind.SET_DEST, OpKind.DEL_DEST):
                yield Op(kind, bare, d)
    sip = Service(ServiceKey.inet("udp", "192.0.2.5", 5060), "rr", persistence_timeout=30,
                  pe_name="sip")
    yield Op(OpKind.ADD_SERVICE, sip)


@pytest.mark.parametrize("op", list(all_ops()), ids=str)
def test_codec_bytes_equal_pyroute2_encoding(op):
    assert encode_op(op, FAMILY_ID, 7) == pyroute2_bytes(op)


def split_messages(data: bytes):
    offset = 0
    while offset < len(data):
        length, mtype = struct.unpack_from("=IH", data, offset)
        yield mtype, data[offset:offset + length]
        offset += (length + 3) & ~3


def decode_dump(name: str):
    """pyroute2's decoding of a captured dump (the reference)."""
    data = bytes.fromhex((DATA / name).read_text().strip())
    out = []
    for mtype, raw in split_messages(data):
        if mtype == 3:  # NLMSG_DONE
            break
        msg = ref.IpvsMessage(raw)
        msg.decode()
        out.append(msg)
    return out


def codec_dump(name: str, attr: int) -> list[codec.Attrs]:
    """The codec's decoding of the same dump (what production runs)."""
    data = bytes.fromhex((DATA / name).read_text().strip())
    out = []
    for msg in codec.iter_messages(data):
        if msg.type == k.NLMSG_DONE:
            break
        out.append(codec.parse_attrs(msg.attrs[attr]))
    return out


def test_decode_captured_service_dump():
    # Captured from a 6.1 kernel holding sample_table(): GET_SERVICE dump replies.
    services = [codec.decode_service(a) for a in codec_dump("service_dump.hex", 1)]
    expected = [s.without_destinations() for s in sample_table()]
    assert sorted(services, key=lambda s: s.key.sort_key) == expected


def test_decode_captured_dest_dump_reads_the_raw_forwarding_method():
    """Regression: pyroute2's IPVSDest.from_message always said fwd_method=3 (DR)."""
    dests = [codec.decode_dest(a, 2) for a in codec_dump("dest_dump_fwm7.hex", 2)]
    assert sorted(dests, key=lambda d: d.key.sort_key) == [
        Destination("198.51.100.40", 0, ForwardMethod.TUN, 1),
        Destination("198.51.100.41", 0, ForwardMethod.TUN, 3, tun_type=TunnelType.GUE,
                    tun_port=6080, tun_flags=1),
    ]


def test_service_key_roundtrip_for_fwmark_ipv6():
    key = ServiceKey.mark(8, AF_INET6)
    raw = codec.message(FAMILY_ID, k.FLAGS_DUMP, 1, k.CMD_GET_DEST,
                        codec.nla(k.CMD_ATTR_SERVICE, codec.service_key_attrs(key)))
    (msg,) = codec.iter_messages(raw)
    assert codec.decode_service_key(codec.parse_attrs(msg.attrs[k.CMD_ATTR_SERVICE])) == key
    back = ref.IpvsMessage(raw)
    back.decode()
    assert ref.decode_service_key(back.get_attr("IPVS_CMD_ATTR_SERVICE")) == key


def test_codec_decoder_agrees_with_pyroute2_on_captured_replies():
    fast = [codec.decode_service(a) for a in codec_dump("service_dump.hex", 1)]
    slow = [ref.decode_service(m.get_attr("IPVS_CMD_ATTR_SERVICE"))
            for m in decode_dump("service_dump.hex")]
    assert fast == slow and len(fast) >= 2
    fast = [codec.decode_dest(a, 2) for a in codec_dump("dest_dump_fwm7.hex", 2)]
    slow = [ref.decode_dest(m.get_attr("IPVS_CMD_ATTR_DEST"), 2)
            for m in decode_dump("dest_dump_fwm7.hex")]
    assert fast == slow and len(fast) >= 2


@pytest.mark.parametrize("cfg", [
    SyncDaemonConfig(SyncState.MASTER, "eth1", 5),
    SyncDaemonConfig(SyncState.BACKUP, "eth0", 7, maxlen=1472, mcast_group="239.1.2.3",
                     mcast_port=8848, mcast_ttl=3),
    SyncDaemonConfig(SyncState.MASTER, "eth0", 1, mcast_group="ff02::1234"),
], ids=str)
def test_sync_daemon_bytes_equal_pyroute2_and_decode_back(cfg):
    raw = encode_side_op(StartSyncDaemon(cfg), FAMILY_ID, 7)
    msg = ref.build_message(k.CMD_NEW_DAEMON, [("IPVS_CMD_ATTR_DAEMON",
                                                {"attrs": ref._daemon_attrs(cfg)})])
    msg["header"].update(type=FAMILY_ID, flags=k.FLAGS_REQUEST, sequence_number=7, pid=0)
    msg.encode()
    assert raw == bytes(msg.data)
    (parsed,) = codec.iter_messages(raw)
    assert codec.decode_daemon(codec.parse_attrs(parsed.attrs[k.CMD_ATTR_DAEMON])) == cfg


def test_timeouts_and_info_roundtrip():
    t = Timeouts(100, 20, 30)
    assert codec.decode_timeouts(codec.parse_attrs(codec.timeouts_attrs(t))) == t
    info = codec.decode_info(codec.parse_attrs(
        codec.u32(k.INFO_ATTR_VERSION, 0x010201) + codec.u32(k.INFO_ATTR_CONN_TAB_SIZE, 4096)))
    assert (info.version, info.conn_table_size) == ("1.2.1", 4096)


def test_get_requests_ask_for_no_ack():
    """Regression: with NLM_F_ACK on GET_CONFIG / GET_INFO, pyroute2 0.9 read the reply and
    left each ACK in its unread queue for good (the soak's RSS growth)."""
    assert k.FLAGS_GET & k.NLM_F_ACK == 0
