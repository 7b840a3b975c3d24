"""A config with three virtual servers reaches the real kernel table exactly."""

import select

from conftest import sh
from guest_configs import three_services

from haipvs.ipvs.desired import desired_table, desired_timeouts
from haipvs.ipvs.netlink import NetlinkIpvs
from haipvs.ipvs.reconcile import Reconciler
from haipvs.ipvs.status import render_status

EXPECTED_LN = """\
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.0.2.100:80 wrr
  -> 198.51.100.10:8080           Masq    1      0          0
  -> 198.51.100.11:8080           Masq    2      0          0
  -> 198.51.100.12:8080           Masq    3      0          0
UDP  192.0.2.100:53 rr persistent 50
  -> 198.51.100.20:53             Route   1      0          0
  -> 198.51.100.21:53             Route   1      0          0
FWM  7 lc
  -> 203.0.113.40:0               Tunnel  1      0          0
  -> 203.0.113.41:0               Tunnel  2      0          0
  -> 203.0.113.42:0               Tunnel  3      0          0
  -> 203.0.113.43:0               Tunnel  4      0          0
"""


def ipvsadm_lines(ns: str, *args: str) -> list[str]:
    return [line.rstrip() for line in sh("ipvsadm", *args, ns=ns).splitlines()]


async def test_three_services_match_ipvsadm_exactly(director):
    config = three_services()
    rec = Reconciler(netns=director)
    try:
        rec.set_desired(desired_table(config), timeouts=desired_timeouts(config))
        await rec.reconcile()
        assert rec.state == "ok", rec.error
        lines = ipvsadm_lines(director, "-Ln")
        assert lines[0].startswith("IP Virtual Server version ")
        assert lines[1:] == EXPECTED_LN.splitlines()
        assert ipvsadm_lines(director, "-L", "--timeout") == [
            "Timeout (tcp tcpfin udp): 100 20 30"]
        # Our own status output is byte-for-byte ipvsadm's.
        table = await rec.call(NetlinkIpvs.dump)
        info = await rec.call(NetlinkIpvs.get_info)
        assert render_status(table, None, info) == sh("ipvsadm", "-Ln", ns=director)
        # Nothing left to do.
        assert not await rec.reconcile()
    finally:
        rec.close()


async def test_get_requests_leave_no_unread_replies(director):
    """Regression: with NLM_F_ACK on GET_CONFIG / GET_INFO, pyroute2 read the reply and left
    each ACK in its unread queue for good (a leak on every reconcile with timeouts). Now
    nothing may be left on the backend's socket after a request."""

    def unread(backend: NetlinkIpvs) -> int:
        readable, _, _ = select.select([backend.transport], [], [], 0)
        return len(readable)

    rec = Reconciler(netns=director)
    try:
        await rec.call(NetlinkIpvs.get_info)  # opens the socket
        before = await rec.call(unread)
        assert before == 0
        for _ in range(50):
            await rec.call(NetlinkIpvs.get_timeouts)
            await rec.call(NetlinkIpvs.get_info)
        assert await rec.call(unread) == before
    finally:
        rec.close()
