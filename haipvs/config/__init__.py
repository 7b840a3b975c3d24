"""Configuration: YAML -> typed, frozen model (see docs/config.md).

The names are re-exported lazily: a command that needs only a light submodule (e.g.
`haipvs drain` reads haipvs.config.process for the state_dir) does not load the whole loader
and model (about 130 ms) to start."""

from haipvs.lazy_exports import lazy_exports

_EXPORTS = {
    "ConfigError": "errors",
    "ConfigIssue": "errors",
    "load_config": "loader",
    "load_config_text": "loader",
    "json_schema": "schema",
    "Authentication": "model",
    "Checker": "model",
    "Config": "model",
    "ConnectChecker": "model",
    "DnsCheck": "model",
    "GarpSettings": "model",
    "GlobalSettings": "model",
    "HttpGet": "model",
    "HttpUrl": "model",
    "LvsSyncDaemon": "model",
    "LvsTimeouts": "model",
    "MiscCheck": "model",
    "RealServer": "model",
    "SmtpCheck": "model",
    "SorryServer": "model",
    "SslGet": "model",
    "TcpCheck": "model",
    "UdpCheck": "model",
    "VirtualAddress": "model",
    "VirtualServer": "model",
    "VrrpInstance": "model",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
