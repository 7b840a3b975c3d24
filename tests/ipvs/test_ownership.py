"""The IPVS ownership ledger: written before any op that adds a service, read back after a
restart, so a service dropped from the config while the daemon was down is deleted and a
foreign one is still never touched."""

import json

from haipvs.ipvs import protocol as k
from haipvs.ipvs.model import Destination, IpvsTable, Service, ServiceKey
from haipvs.ipvs.ops import OpKind
from haipvs.ipvs.ownership import LEDGER_NAME, OwnershipLedger, decode_key, encode_key
from haipvs.ipvs.reconcile import Reconciler
from tests.ipvs.fake_ipvs_kernel import FakeIpvsKernel

WEB = ServiceKey.inet("tcp", "192.0.2.100", 80)
API = ServiceKey.inet("tcp", "192.0.2.100", 8443)
V6 = ServiceKey.inet("tcp", "2001:db8::100", 80)
MARK = ServiceKey.mark(7)
FOREIGN = ServiceKey.inet("udp", "192.0.2.200", 53)
RS = Destination("198.51.100.10", 8080, weight=1)


def svc(key: ServiceKey) -> Service:
    return Service(key, "wrr", destinations=(RS,))


def reconciler(fake: FakeIpvsKernel, ledger_path) -> Reconciler:
    return Reconciler(transport_factory=fake.reopen, ownership=OwnershipLedger(ledger_path))


def ledger_keys(path) -> set[ServiceKey]:
    return {decode_key(e) for e in json.loads(path.read_text())["services"]}


def test_keys_round_trip_for_every_kind_of_service():
    for key in (WEB, V6, MARK, ServiceKey.mark(9, 10)):
        assert decode_key(encode_key(key)) == key


async def test_a_restart_deletes_what_the_old_run_added_and_the_new_config_dropped(tmp_path):
    path = tmp_path / LEDGER_NAME
    fake = FakeIpvsKernel(IpvsTable((svc(FOREIGN),)))
    first = reconciler(fake, path)
    try:
        first.set_desired(IpvsTable((svc(WEB), svc(API))))
        await first.reconcile()
    finally:
        first.close()  # the "crash": the in-memory owned set is gone
    assert ledger_keys(path) == {WEB, API}

    restarted = reconciler(fake, path)
    try:
        restarted.set_desired(IpvsTable((svc(WEB),)))  # API left the config meanwhile
        plan = await restarted.reconcile()
        assert [(op.kind, op.service.key) for op in plan] == [(OpKind.DEL_SERVICE, API)]
        assert set(fake.services) == {WEB, FOREIGN}
        assert restarted.foreign == [FOREIGN]
    finally:
        restarted.close()
    assert ledger_keys(path) == {WEB}


async def test_the_ledger_names_a_service_before_the_kernel_gets_it(tmp_path):
    path = tmp_path / LEDGER_NAME
    fake = FakeIpvsKernel()
    seen_at_add: list[set[ServiceKey]] = []

    def check(_fake, cmd, _req):
        if cmd == k.CMD_NEW_SERVICE:
            seen_at_add.append(ledger_keys(path))

    fake.before = check
    rec = reconciler(fake, path)
    try:
        rec.set_desired(IpvsTable((svc(WEB), svc(MARK))))
        await rec.reconcile()
    finally:
        rec.close()
    assert seen_at_add == [{WEB, MARK}, {WEB, MARK}]


async def test_an_unreadable_ledger_is_ignored_and_rewritten(tmp_path):
    path = tmp_path / LEDGER_NAME
    path.write_text("{not json")
    fake = FakeIpvsKernel(IpvsTable((svc(FOREIGN),)))
    rec = reconciler(fake, path)
    try:
        rec.set_desired(IpvsTable((svc(WEB),)))
        await rec.reconcile()
        assert set(fake.services) == {WEB, FOREIGN}
    finally:
        rec.close()
    assert ledger_keys(path) == {WEB}


async def test_an_unwritable_ledger_does_not_stop_programming(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    fake = FakeIpvsKernel()
    rec = reconciler(fake, blocker / LEDGER_NAME)
    try:
        rec.set_desired(IpvsTable((svc(WEB),)))
        await rec.reconcile()
        assert set(fake.services) == {WEB} and rec.state == "ok"
    finally:
        rec.close()
