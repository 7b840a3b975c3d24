"""A table covering every IPVS feature the status layout and codec must handle.

tests/ipvs/data/ holds what a real 6.1 kernel returned for exactly this table (the
`ipvsadm -Ln` text and raw GET_SERVICE / GET_DEST dump replies).
"""

from haipvs.ipvs.model import (
    AF_INET6,
    SVC_F_MH_PORT,
    SVC_F_ONEPACKET,
    SVC_F_SH_FALLBACK,
    SVC_F_SH_PORT,
    TUN_FLAG_CSUM,
    Destination,
    ForwardMethod,
    IpvsTable,
    Service,
    ServiceKey,
    TunnelType,
)

NAT, DR, TUN = ForwardMethod.NAT, ForwardMethod.DR, ForwardMethod.TUN


def sample_table() -> IpvsTable:
    return IpvsTable((
        Service(ServiceKey.inet("tcp", "192.0.2.100", 80), "wrr", destinations=(
            Destination("198.51.100.10", 8080, NAT, 1),
            Destination("198.51.100.11", 8080, NAT, 2, u_threshold=100, l_threshold=10),
        )),
        Service(ServiceKey.inet("udp", "192.0.2.100", 53), "rr", persistence_timeout=50,
                destinations=(
                    Destination("198.51.100.20", 53, DR, 1),
                    Destination("198.51.100.21", 53, DR, 0),
                )),
        Service(ServiceKey.inet("udp", "192.0.2.101", 5060), "sh",
                flags=SVC_F_SH_PORT | SVC_F_SH_FALLBACK | SVC_F_ONEPACKET,
                persistence_timeout=300, netmask=24,
                destinations=(Destination("198.51.100.30", 5060, NAT, 5),)),
        Service(ServiceKey.mark(7), "lc", destinations=(
            Destination("198.51.100.40", 0, TUN, 1),
            Destination("198.51.100.41", 0, TUN, 3, tun_type=TunnelType.GUE, tun_port=6080,
                        tun_flags=TUN_FLAG_CSUM),
        )),
        Service(ServiceKey.mark(8, AF_INET6), "mh", flags=SVC_F_MH_PORT,
                destinations=(Destination("2001:db8:1::40", 0, DR, 1),)),
        Service(ServiceKey.inet("tcp", "2001:db8::100", 443), "wlc", persistence_timeout=60,
                netmask=64, destinations=(Destination("2001:db8:1::10", 443, NAT, 10),)),
        Service(ServiceKey.inet("sctp", "192.0.2.102", 3868), "fo"),
    ))
