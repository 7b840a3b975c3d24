"""haipvs: highly available LVS/IPVS directors (VRRP + IPVS + health checks)."""

__version__ = "0.1.0"
