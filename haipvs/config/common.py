"""Value kinds and types that several sections of the file share."""

from __future__ import annotations

import ipaddress

from haipvs import limits
from haipvs.config.kinds import Float, Int, Text

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

IFNAME = Text(15, r"[^/:\s]+", "an interface name: no '/', ':' or spaces")
ABS_PATH = Text(4096, r"/.*", "an absolute path")
PORT = Int(1, limits.PORT_MAX)
SECONDS_LONG = Float(0, 86400)
HOSTNAME = Text(253, r"[A-Za-z0-9_.:-]+", "a host name")
TRACKER_WEIGHT = Int(limits.TRACKER_WEIGHT_MIN, limits.TRACKER_WEIGHT_MAX)
SCRIPT_NAME = Text(64, r"[A-Za-z0-9_.:-]+", "letters, digits, '_', '.', ':', '-'")
