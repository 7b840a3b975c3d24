"""Real traffic through the director in NAT mode: wrr weights split connections 1:2, and
removing a real server moves all traffic to the other."""

from guest_configs import ip, rs
from guest_http import fetch, nat_topology

from haipvs.config.model import Config, GlobalSettings, VirtualServer
from haipvs.ipvs.desired import desired_table
from haipvs.ipvs.reconcile import Reconciler


def web_config(*real_servers) -> Config:
    vs = VirtualServer(protocol="TCP", address=ip("192.0.2.100"), port=80, lb_algo="wrr",
                       lb_kind="NAT", real_servers=real_servers)
    return Config(source="traffic", global_settings=GlobalSettings(router_id="guest"),
                  virtual_servers=(vs,))


async def test_nat_wrr_split_and_failover(netns):
    director, client = nat_topology(netns)

    rec = Reconciler(netns=director)
    try:
        rec.set_desired(desired_table(web_config(rs("198.51.100.2", 8080, 1),
                                                 rs("198.51.100.6", 8080, 2))))
        await rec.reconcile()
        assert rec.state == "ok", rec.error
        assert fetch(client, "192.0.2.100", 80, 30) == {"rs1": 10, "rs2": 20}

        rec.set_desired(desired_table(web_config(rs("198.51.100.6", 8080, 2))))
        result = await rec.reconcile()
        assert [str(op) for op in result] == [
            "del_dest TCP 192.0.2.100:80 -> 198.51.100.2:8080"]
        assert fetch(client, "192.0.2.100", 80, 30) == {"rs2": 30}
    finally:
        rec.close()
