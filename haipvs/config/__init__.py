"""Configuration: YAML -> typed, frozen model (see docs/config.md)."""

from haipvs.config.errors import ConfigError, ConfigIssue
from haipvs.config.loader import load_config, load_config_text
from haipvs.config.model import (
    Authentication,
    Checker,
    Config,
    ConnectChecker,
    DnsCheck,
    GarpSettings,
    GlobalSettings,
    HttpGet,
    HttpUrl,
    LvsSyncDaemon,
    LvsTimeouts,
    MiscCheck,
    RealServer,
    SslGet,
    TcpCheck,
    UdpCheck,
    VirtualAddress,
    VirtualServer,
    VrrpInstance,
)
from haipvs.config.schema import json_schema

__all__ = [
    "Authentication",
    "Checker",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "ConnectChecker",
    "DnsCheck",
    "GarpSettings",
    "GlobalSettings",
    "HttpGet",
    "HttpUrl",
    "LvsSyncDaemon",
    "LvsTimeouts",
    "MiscCheck",
    "RealServer",
    "SslGet",
    "TcpCheck",
    "UdpCheck",
    "VirtualAddress",
    "VirtualServer",
    "VrrpInstance",
    "json_schema",
    "load_config",
    "load_config_text",
]
