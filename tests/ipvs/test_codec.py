"""Netlink message building and parsing: NLA layout, the struct fast path, captured replies."""

import struct
from pathlib import Path

import pytest

from haipvs.ipvs import kernel as k
from haipvs.ipvs import wire
from haipvs.ipvs.kernel import Op, OpKind
from haipvs.ipvs.model import (
    AF_INET6,
    Destination,
    ForwardMethod,
    Service,
    ServiceKey,
    TunnelType,
)
from tests.ipvs.ipvs_samples import sample_table

DATA = Path(__file__).parent / "data"
FAMILY_ID = 0x21


def pyroute2_bytes(op: Op, seq: int = 7) -> bytes:
    msg, flags = k.op_message(op)
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
    assert wire.encode_op(op, FAMILY_ID, 7) == expected


def test_service_netmask_and_flags_encoding():
    v4 = Service(ServiceKey.inet("udp", "192.0.2.1", 53), "rr", persistence_timeout=50,
                 netmask=24)
    v6 = Service(ServiceKey.inet("udp", "2001:db8::1", 53), "rr")
    raw4 = pyroute2_bytes(Op(OpKind.ADD_SERVICE, v4))
    # IPv4 netmask: the mask's bytes; flags: PERSISTENT with a full mask; timeout 50.
    assert nla(9, bytes([255, 255, 255, 0])) in raw4
    assert nla(7, struct.pack("=II", 0x1, 0xFFFFFFFF)) in raw4
    assert nla(8, struct.pack("=I", 50)) in raw4
    # IPv6 "netmask" is the prefix length as a host-order u32 (what the kernel compares).
    assert nla(9, struct.pack("=I", 128)) in pyroute2_bytes(Op(OpKind.ADD_SERVICE, v6))


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
def test_fast_path_bytes_equal_pyroute2_encoding(op):
    assert wire.encode_op(op, FAMILY_ID, 7) == pyroute2_bytes(op)


def split_messages(data: bytes):
    offset = 0
    while offset < len(data):
        length, mtype = struct.unpack_from("=IH", data, offset)
        yield mtype, data[offset:offset + length]
        offset += (length + 3) & ~3


def decode_dump(name: str):
    data = bytes.fromhex((DATA / name).read_text().strip())
    out = []
    for mtype, raw in split_messages(data):
        if mtype == 3:  # NLMSG_DONE
            break
        msg = k.IpvsMessage(raw)
        msg.decode()
        out.append(msg)
    return out


def test_decode_captured_service_dump():
    # Captured from a 6.1 kernel holding sample_table(): GET_SERVICE dump replies.
    services = [k.decode_service(m.get_attr("IPVS_CMD_ATTR_SERVICE"))
                for m in decode_dump("service_dump.hex")]
    expected = [s.without_destinations() for s in sample_table()]
    assert sorted(services, key=lambda s: s.key.sort_key) == expected


def test_decode_captured_dest_dump_reads_the_raw_forwarding_method():
    dests = [k.decode_dest(m.get_attr("IPVS_CMD_ATTR_DEST"), 2)
             for m in decode_dump("dest_dump_fwm7.hex")]
    assert sorted(dests, key=lambda d: d.key.sort_key) == [
        Destination("198.51.100.40", 0, ForwardMethod.TUN, 1),
        Destination("198.51.100.41", 0, ForwardMethod.TUN, 3, tun_type=TunnelType.GUE,
                    tun_port=6080, tun_flags=1),
    ]


def test_service_key_roundtrip_for_fwmark_ipv6():
    key = ServiceKey.mark(8, AF_INET6)
    msg = k.build_message(k.CMD_GET_DEST, [("IPVS_CMD_ATTR_SERVICE",
                                              {"attrs": k.service_key_attrs(key)})])
    msg["header"]["type"] = FAMILY_ID
    msg.encode()
    back = k.IpvsMessage(msg.data)
    back.decode()
    assert k.decode_service_key(back.get_attr("IPVS_CMD_ATTR_SERVICE")) == key


def test_fast_dump_decoder_agrees_with_pyroute2_on_captured_replies():
    for name, family in (("service_dump.hex", None), ("dest_dump_fwm7.hex", 2)):
        data = bytes.fromhex((DATA / name).read_text().strip())
        fast = []
        for mtype, _seq, attrs in wire.iter_messages(data):
            if mtype == 3:
                break
            if family is None:
                raw = attrs[1]
                fast.append(wire.service_from_attrs(wire.parse_attrs(raw, 0, len(raw))))
            else:
                raw = attrs[2]
                fast.append(wire.dest_from_attrs(wire.parse_attrs(raw, 0, len(raw)), family))
        if family is None:
            slow = [k.decode_service(m.get_attr("IPVS_CMD_ATTR_SERVICE"))
                    for m in decode_dump(name)]
        else:
            slow = [k.decode_dest(m.get_attr("IPVS_CMD_ATTR_DEST"), family)
                    for m in decode_dump(name)]
        assert fast == slow and len(fast) >= 2
