"""More keepalived 2.2.7 service rules the importer follows (issue 14), found by importing
generated virtual_server blocks and running `haipvs check` on the output."""

from __future__ import annotations

from pathlib import Path

from tests.importer.test_fidelity import run, vs


def test_real_server_port_0_is_no_port(tmp_path: Path):
    """check_data.c alloc_rs(): port 0 is no port, so a DR real server takes the service's
    and its checks need no connect_port."""
    config, result = run(tmp_path, vs("    lb_kind DR\n    real_server 192.0.2.2 0 {\n"
                                      "        TCP_CHECK {\n        }\n    }\n"))
    rs = config.virtual_servers[0].real_servers[0]
    assert rs.port == 80 and rs.checkers[0].connect_port is None
    assert not result.notes


def test_ip_family_conflicting_with_the_address_is_ignored(tmp_path: Path):
    """check_parser.c ip_family_handler(): "conflicts with server family"."""
    config, result = run(tmp_path, vs("    ip_family inet6\n    real_server 192.0.2.2 80 {\n"
                                      "    }\n"))
    assert config.virtual_servers[0].ip_family == 4
    assert [n.line for n in result.notes] == [3]


def test_fwmark_family_comes_from_the_first_non_tun_server(tmp_path: Path):
    """check_parser.c rs_end_handler() sets a fwmark service's family from its first real
    server that is not TUN; the sorry server of the other family is then skipped."""
    config, result = run(tmp_path, vs(
        "    sorry_server 192.0.2.9\n"
        "    real_server 192.0.2.3 8080 {\n        lvs_method TUN\n    }\n"
        "    real_server 2001:db8::2 8080 {\n    }\n",
        head="fwmark 5", protocol="delay_loop 5"))
    service = config.virtual_servers[0]
    assert service.ip_family == 6 and service.sorry_server is None
    assert [str(r.address) for r in service.real_servers] == ["192.0.2.3", "2001:db8::2"]
    assert [n.line for n in result.notes] == [3, 4]  # the sorry server; the TUN port dropped
