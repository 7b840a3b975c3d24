"""IPVS generic netlink protocol numbers (include/uapi/linux/ip_vs.h, linux/netlink.h,
linux/genetlink.h). Constants only: the lowest layer, imported by the codec and above.

The kernel's numbers are fixed ABI; spelling them here (instead of taking them from
pyroute2's message classes) lets the codec, the backend and the fake kernel in the tests
share one definition without importing pyroute2.
"""

from __future__ import annotations

import struct

GENL_NAME = "IPVS"
GENL_VERSION = 1

# Commands (enum IPVS_CMD_*).
CMD_NEW_SERVICE = 1
CMD_SET_SERVICE = 2
CMD_DEL_SERVICE = 3
CMD_GET_SERVICE = 4
CMD_NEW_DEST = 5
CMD_SET_DEST = 6
CMD_DEL_DEST = 7
CMD_GET_DEST = 8
CMD_NEW_DAEMON = 9
CMD_DEL_DAEMON = 10
CMD_GET_DAEMON = 11
CMD_SET_CONFIG = 12
CMD_GET_CONFIG = 13
CMD_SET_INFO = 14
CMD_GET_INFO = 15
CMD_ZERO = 16
CMD_FLUSH = 17

# Top-level attributes (IPVS_CMD_ATTR_*).
CMD_ATTR_SERVICE = 1
CMD_ATTR_DEST = 2
CMD_ATTR_DAEMON = 3
CMD_ATTR_TIMEOUT_TCP = 4
CMD_ATTR_TIMEOUT_TCP_FIN = 5
CMD_ATTR_TIMEOUT_UDP = 6

# The GET_INFO reply reuses numbers 1 and 2 at the top level (IPVS_INFO_ATTR_*).
INFO_ATTR_VERSION = 1
INFO_ATTR_CONN_TAB_SIZE = 2

# Service attributes (IPVS_SVC_ATTR_*).
SVC_ATTR_AF = 1
SVC_ATTR_PROTOCOL = 2
SVC_ATTR_ADDR = 3  # union nf_inet_addr: 4 (IPv4) or 16 (IPv6) significant bytes
SVC_ATTR_PORT = 4  # network order
SVC_ATTR_FWMARK = 5
SVC_ATTR_SCHED_NAME = 6
SVC_ATTR_FLAGS = 7  # struct ip_vs_flags {flags, mask}
SVC_ATTR_TIMEOUT = 8
SVC_ATTR_NETMASK = 9  # IPv4: the mask's bytes; IPv6: the prefix length, host-order u32
SVC_ATTR_STATS = 10
SVC_ATTR_PE_NAME = 11
SVC_ATTR_STATS64 = 12

# Destination attributes (IPVS_DEST_ATTR_*).
DEST_ATTR_ADDR = 1
DEST_ATTR_PORT = 2  # network order
DEST_ATTR_FWD_METHOD = 3  # the low 3 bits of the connection flags
DEST_ATTR_WEIGHT = 4
DEST_ATTR_U_THRESH = 5
DEST_ATTR_L_THRESH = 6
DEST_ATTR_ACTIVE_CONNS = 7
DEST_ATTR_INACT_CONNS = 8
DEST_ATTR_PERSIST_CONNS = 9
DEST_ATTR_STATS = 10
DEST_ATTR_ADDR_FAMILY = 11
DEST_ATTR_STATS64 = 12
DEST_ATTR_TUN_TYPE = 13  # u8
DEST_ATTR_TUN_PORT = 14  # network order
DEST_ATTR_TUN_FLAGS = 15

# Sync daemon attributes (IPVS_DAEMON_ATTR_*).
DAEMON_ATTR_STATE = 1
DAEMON_ATTR_MCAST_IFN = 2
DAEMON_ATTR_SYNC_ID = 3
DAEMON_ATTR_SYNC_MAXLEN = 4
DAEMON_ATTR_MCAST_GROUP = 5
DAEMON_ATTR_MCAST_GROUP6 = 6
DAEMON_ATTR_MCAST_PORT = 7
DAEMON_ATTR_MCAST_TTL = 8

# Netlink header flags and message types (linux/netlink.h).
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3

FLAGS_REQUEST = NLM_F_REQUEST | NLM_F_ACK
# For requests that have a reply (GET_CONFIG, GET_INFO): no ACK. pyroute2 0.9 stopped reading
# at the reply and left each ACK in its unread queue for good (a leak per request); keeping
# these requests ACK-less means no reader can leave one behind. Errors still come.
FLAGS_GET = NLM_F_REQUEST
FLAGS_CREATE = FLAGS_REQUEST | NLM_F_CREATE | NLM_F_EXCL
FLAGS_DUMP = NLM_F_REQUEST | NLM_F_DUMP

# Generic netlink controller (linux/genetlink.h): the family-id lookup.
GENL_ID_CTRL = 0x10
CTRL_CMD_NEWFAMILY = 1
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
CTRL_VERSION = 1

NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, seq, pid
GENLHDR = struct.Struct("=BBH")  # cmd, version, reserved
NLAHDR = struct.Struct("=HH")  # length, type
NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED / NLA_F_NET_BYTEORDER

# Dump datagrams are at most 32 KiB (the kernel caps them); receiving into 64 KiB also stays
# below glibc's mmap threshold, which the daemon fixes at 128 KiB (resources.py).
RECV_SIZE = 1 << 16
