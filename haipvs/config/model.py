"""The typed, immutable configuration model.

Instances are only ever built by the loader (`haipvs.config.load_config`), after every value
has been validated, so code consuming them can trust the invariants documented here and in
docs/config.md. Everything is frozen and hashable; two loads of the same file compare equal.

Each class is defined, with the YAML spec of each attribute, beside its section in the topic
module imported below (see haipvs/config/settings.py); this module is the one import for code
that reads the config.
"""

from __future__ import annotations

from haipvs.config.bfd import Bfd, BfdRef, BfdSession
from haipvs.config.checkers import (
    Checker,
    ConnectChecker,
    DnsCheck,
    FileCheck,
    HttpGet,
    HttpUrl,
    MiscCheck,
    PingCheck,
    SmtpCheck,
    SslGet,
    TcpCheck,
    UdpCheck,
)
from haipvs.config.common import IPAddress, IPInterface
from haipvs.config.global_defs import GlobalSettings, LvsSyncDaemon, LvsTimeouts
from haipvs.config.notify_script import ScriptCommand
from haipvs.config.routes import NextHop, RouteEntry, RuleEntry, StaticAddress
from haipvs.config.scale_out import ScaleOut, ScaleOutVip
from haipvs.config.sections import Config
from haipvs.config.smtp import SmtpSettings
from haipvs.config.ssl_client import SslClient
from haipvs.config.track_process import ProcessRef, TrackProcess
from haipvs.config.tracking import SyncGroup, TrackFile, VrrpScript
from haipvs.config.virtual_server import RealServer, SorryServer, VirtualServer
from haipvs.config.vrrp_instance import (
    Authentication,
    GarpSettings,
    TrackInterface,
    TrackRef,
    VirtualAddress,
    VrrpInstance,
)
from haipvs.config.vs_group import VsGroup

__all__ = [
    "Authentication",
    "Bfd",
    "BfdRef",
    "BfdSession",
    "Checker",
    "Config",
    "ConnectChecker",
    "DnsCheck",
    "FileCheck",
    "GarpSettings",
    "GlobalSettings",
    "HttpGet",
    "HttpUrl",
    "IPAddress",
    "IPInterface",
    "LvsSyncDaemon",
    "LvsTimeouts",
    "MiscCheck",
    "NextHop",
    "PingCheck",
    "ProcessRef",
    "RealServer",
    "RouteEntry",
    "RuleEntry",
    "ScaleOut",
    "ScaleOutVip",
    "ScriptCommand",
    "SmtpCheck",
    "SmtpSettings",
    "SorryServer",
    "SslClient",
    "SslGet",
    "StaticAddress",
    "SyncGroup",
    "TcpCheck",
    "TrackFile",
    "TrackInterface",
    "TrackProcess",
    "TrackRef",
    "UdpCheck",
    "VirtualAddress",
    "VirtualServer",
    "VrrpInstance",
    "VrrpScript",
    "VsGroup",
]
