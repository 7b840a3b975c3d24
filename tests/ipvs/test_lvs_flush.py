"""global.lvs_flush: keepalived's `lvs_flush` (check/check_daemon.c start_check:
`if (!reload && global_data->lvs_flush) ipvs_flush_cmd();`), limited to what haipvs owns.

Once at start, before the first pass: every service of the ownership ledger is deleted and the
configured ones are added afresh (so their real servers are back in config order, counters
new). Never on reload, never IPVS_CMD_FLUSH, never a foreign service."""

from haipvs.ipvs import protocol as k
from haipvs.ipvs.flush import flush_ops
from haipvs.ipvs.model import Destination, IpvsTable, Service, ServiceKey
from haipvs.ipvs.ops import OpKind
from haipvs.ipvs.ownership import LEDGER_NAME, OwnershipLedger
from haipvs.ipvs.reconcile import Reconciler
from tests.ipvs.fake_ipvs_kernel import FakeIpvsKernel

WEB = ServiceKey.inet("tcp", "192.0.2.100", 80)
GONE = ServiceKey.inet("tcp", "192.0.2.100", 8080)
FOREIGN = ServiceKey.inet("udp", "192.0.2.200", 53)
RS1 = Destination("198.51.100.10", 80, weight=1)
RS2 = Destination("198.51.100.11", 80, weight=1)
NAMES = {k.CMD_NEW_SERVICE: "add_service", k.CMD_DEL_SERVICE: "del_service",
         k.CMD_NEW_DEST: "add_dest", k.CMD_DEL_DEST: "del_dest", k.CMD_FLUSH: "flush",
         k.CMD_SET_SERVICE: "set_service", k.CMD_SET_DEST: "set_dest"}


def svc(key: ServiceKey, *dests: Destination) -> Service:
    return Service(key, "wrr", destinations=dests)


def recorded(fake: FakeIpvsKernel) -> list[str]:
    seen: list[str] = []
    fake.before = lambda _fake, cmd, _req: seen.append(NAMES[cmd]) if cmd in NAMES else None
    return seen


async def start(fake, path, *, flush: bool, desired: IpvsTable) -> Reconciler:
    rec = Reconciler(transport_factory=fake.reopen, ownership=OwnershipLedger(path),
                     flush_at_start=flush)
    rec.set_desired(desired)
    await rec.reconcile()
    return rec


def test_flush_ops_name_only_owned_services():
    table = IpvsTable((svc(WEB, RS1), svc(FOREIGN, RS1)))
    ops = flush_ops(table, {WEB, GONE})
    assert [(op.kind, op.service.key) for op in ops] == [(OpKind.DEL_SERVICE, WEB)]
    assert ops[0].service.destinations == ()  # the kernel drops the dests with the service


async def test_lvs_flush_at_start_re_creates_owned_services_and_keeps_foreign_ones(tmp_path):
    path = tmp_path / LEDGER_NAME
    fake = FakeIpvsKernel(IpvsTable((svc(FOREIGN, RS1),)))
    # the last run: WEB with RS2 added before RS1, and GONE
    first = await start(fake, path, flush=False,
                        desired=IpvsTable((svc(WEB, RS2, RS1), svc(GONE, RS1))))
    first.close()
    seen = recorded(fake)
    rec = await start(fake, path, flush=True, desired=IpvsTable((svc(WEB, RS1, RS2),)))
    try:
        assert seen[:2] == ["del_service", "del_service"]  # WEB and GONE, nothing else
        assert seen[2:] == ["add_service", "add_dest", "add_dest"]
        assert "flush" not in seen
        assert set(fake.services) == {WEB, FOREIGN}
        assert [d.address for d in fake.table().get(WEB).destinations] == [
            "198.51.100.10", "198.51.100.11"]  # config order again
        assert [d.address for d in fake.table().get(FOREIGN).destinations] == [
            "198.51.100.10"]  # untouched, its real server still there
        # a reload (the same reconciler, a new desired table) adopts, never flushes again
        seen.clear()
        rec.set_desired(IpvsTable((svc(WEB, RS1, RS2),)))
        await rec.reconcile()
        assert seen == []
    finally:
        rec.close()


async def test_without_lvs_flush_a_restart_adopts_owned_services_in_place(tmp_path):
    path = tmp_path / LEDGER_NAME
    fake = FakeIpvsKernel()
    (await start(fake, path, flush=False, desired=IpvsTable((svc(WEB, RS2, RS1),)))).close()
    seen = recorded(fake)
    rec = await start(fake, path, flush=False, desired=IpvsTable((svc(WEB, RS1, RS2),)))
    rec.close()
    assert seen == []  # same services, same dests: nothing to do
