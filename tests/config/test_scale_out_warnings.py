"""`haipvs check` warns when a bgp VIP's virtual server cannot give every director the same
real server for a flow (issue 17: "Scheduler mh with mh-fallback,mh-port")."""

from haipvs.config import load_config_text
from haipvs.config.warnings import config_warnings

CONFIG = """
scale_out:
  vips: [{address: 192.0.2.10}]
virtual_servers:
  - address: 192.0.2.10
    port: 80
    lb_kind: DR
    lb_algo: ALGO
    FLAGS
    real_servers: [{address: 198.51.100.10, port: 80}]
  - address: 192.0.2.20
    port: 80
    lb_algo: rr
    real_servers: [{address: 198.51.100.10, port: 80}]
"""


def warnings(algo: str, flags: str = "") -> list[str]:
    text = CONFIG.replace("ALGO", algo).replace("FLAGS", flags)
    return [str(w) for w in config_warnings(load_config_text(text, "lvs.yaml"))]


def test_a_bgp_vip_with_another_scheduler_is_warned_about():
    (warning,) = warnings("rr")
    assert warning.startswith("virtual_servers[192.0.2.10:80].lb_algo: rr on a bgp VIP")
    assert "lb_algo: mh" in warning  # the VRRP-mode 192.0.2.20 with rr is not


def test_mh_without_its_flags_is_warned_about_and_with_them_not():
    (warning,) = warnings("mh")
    assert "without mh-fallback, mh-port" in warning
    assert warnings("mh", "sched_flags: [mh-fallback, mh-port]") == []
