"""The scale-out control socket's request lines (`haipvs drain VIP|--all`, `haipvs undrain`)
and a round trip through a real Unix socket with the trio server."""

from __future__ import annotations

import ipaddress

import pytest
import trio

from haipvs.drivers import control_client, control_socket
from haipvs.drivers.control_socket import Request, parse


def test_drain_and_undrain_lines():
    assert parse("drain 192.0.2.10\n") == Request("drain", ipaddress.ip_address("192.0.2.10"))
    assert parse("undrain all") == Request("undrain", None)
    assert parse("drain 2001:db8::10").vip == ipaddress.ip_address("2001:db8::10")


@pytest.mark.parametrize("line", ["", "drain", "stop all", "drain 192.0.2.300", "drain a b"])
def test_bad_lines_are_refused(line):
    with pytest.raises(ValueError):
        parse(line)


def test_round_trip_through_the_socket(tmp_path):
    path = tmp_path / "scale-out.sock"
    seen: list[Request] = []

    async def handle(request: Request) -> dict:
        seen.append(request)
        return {"ok": True, "vips": {}}

    async def main() -> list[dict]:
        async with trio.open_nursery() as nursery:
            await nursery.start(control_socket.serve, path, handle)
            assert path.stat().st_mode & 0o777 == 0o600  # only root may drain
            replies = [await trio.to_thread.run_sync(control_client.request, path, line)
                       for line in ("drain all", "nonsense")]
            nursery.cancel_scope.cancel()
        return replies

    ok, bad = trio.run(main)
    assert ok == {"ok": True, "vips": {}}
    assert bad["ok"] is False and "expected" in bad["error"]
    assert seen == [Request("drain", None)]
    assert not path.exists()  # removed on the way out


def test_a_socket_that_cannot_be_made_raises_oserror_for_the_daemon_to_log(tmp_path):
    too_long = tmp_path / ("d" * 120) / "scale-out.sock"

    async def main() -> None:
        with pytest.raises(OSError):
            await control_socket.listen(too_long)

    trio.run(main)
