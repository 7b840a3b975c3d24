"""Pure policy: every rule that decides something, outside the VRRP core.

Each module is driven like the core (`handle(now, input) -> outputs` or a pure function of
its inputs): no sockets, threads, clocks or trio; time is passed in. Drivers
(`haipvs/drivers/`) and the daemon wiring translate the outputs into I/O. Tests live in
tests/policy/, named after the keepalived or RFC behaviour each rule follows.
"""
