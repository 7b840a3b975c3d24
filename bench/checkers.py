"""Health checker throughput and memory.

    .venv/bin/python bench/checkers.py [--servers 10000] [--delay-loop 1.0] [--seconds 10]
    sudo .venv/bin/python bench/checkers.py --goals   # issue 18: checks/s + VRRP lateness

--goals (bench/checker_goals.py): HTTP_GET against nginx and TCP_CHECK, each with the VRRP
thread's advert lateness on the wire in the same window, keepalived beside it, ✓/✗ against
issue 18's goals.

Scenarios (each ≤ ~30 s):
- tcp:  N TCP_CHECKs at delay_loop D (about N/D checks/s offered; keepalived semantics put
        delay_loop after each attempt's end, so the achieved rate is a bit lower) against
        loopback listeners with TCP_DEFER_ACCEPT: the kernel completes the handshake and the
        checker's RST drops it, so no user-space accept loop limits the rate. Reports checks/s
        achieved and this process's CPU% (os.times; 100 = one core) in the measured window.
- tcp-accept: the same against listeners in a child process that accept() and close every
        connection (more realistic server side, but its Python accept loop competes for CPU).
- http: the same with HTTP_GET against a minimal HTTP/1.0 responder child.
- http-clients: CPU per GET, h11 over raw trio streams (http.py: what ssl_get uses; plain
        http_get is batched, httpbatch.py) vs a shared httpx.AsyncClient without keep-alive
        (new connection per request, like a checker).
- rss:  VmRSS of this process with N TCP checkers live (goal ≤ 80 MiB at 10,000).

Each real server has its own identity (198.51.100.0/24 × ports; never contacted) and is
probed via connect_ip/connect_port on 127.0.0.1, which is how one listener can stand in for
10,000 servers without binding wildcard addresses.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import selectors
import socket
import sys
import time

import trio

from haipvs import limits
from haipvs.health import CheckSpec, Endpoint, HealthEngine, HttpProbe, TcpProbe, Timing, UrlSpec
from haipvs.health.engine import ServerKey

LISTENERS = 4
SCENARIOS = ("tcp", "tcp-accept", "http", "http-clients", "rss")
HTTP_REPLY = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def _serve(kind: str, ports_out, ready) -> None:
    """Child process: accept on LISTENERS loopback ports; for http, answer every request."""
    selector = selectors.DefaultSelector()
    ports = []
    for _ in range(LISTENERS):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(4096)
        listener.setblocking(False)
        selector.register(listener, selectors.EVENT_READ, "listener")
        ports.append(listener.getsockname()[1])
    ports_out.extend(ports)
    ready.set()
    while True:
        for key, _ in selector.select():
            sock = key.fileobj
            if key.data == "listener":
                for _ in range(256):
                    try:
                        conn, _addr = sock.accept()
                    except BlockingIOError:
                        break
                    if kind == "tcp":
                        conn.close()
                    else:
                        conn.setblocking(False)
                        selector.register(conn, selectors.EVENT_READ, "conn")
            else:
                try:
                    data = sock.recv(4096)
                    if data:
                        sock.send(HTTP_REPLY)
                except OSError:
                    pass
                selector.unregister(sock)
                sock.close()


def start_listeners(kind: str) -> tuple[multiprocessing.Process, list[int]]:
    manager = multiprocessing.Manager()
    ports = manager.list()
    ready = manager.Event()
    process = multiprocessing.Process(target=_serve, args=(kind, ports, ready), daemon=True)
    process.start()
    ready.wait(10)
    return process, list(ports)


def deferred_listeners() -> tuple[list[socket.socket], list[int]]:
    """Listeners that never need accept(): with TCP_DEFER_ACCEPT a connection without data
    stays a request socket that the checker's RST removes."""
    listeners = []
    for _ in range(LISTENERS):
        listener = socket.socket()
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 30)
        listener.bind(("127.0.0.1", 0))
        listener.listen(4096)
        listeners.append(listener)
    return listeners, [listener.getsockname()[1] for listener in listeners]


def identity(i: int) -> tuple[str, int]:
    return (f"198.51.100.{1 + i % 250}", 1024 + i // 250)


def make_plan(kind: str, servers: int, delay_loop: float, ports: list[int]) -> dict:
    timing = Timing(delay_loop=delay_loop, retry=1, delay_before_retry=delay_loop)
    plan = {}
    for i in range(servers):
        endpoint = Endpoint("127.0.0.1", ports[i % len(ports)])
        if kind == "tcp":
            probe = TcpProbe(endpoint, 2.0)
        else:
            probe = HttpProbe(endpoint, (UrlSpec("/health"),), 2.0)
        address, port = identity(i)
        plan[ServerKey(("TCP", "192.0.2.1", 80), (address, port))] = (
            CheckSpec((address, port), probe, timing),
        )
    return plan


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def total_runs(engine: HealthEngine) -> tuple[int, int]:
    runs = failures = 0
    for checker in engine._checkers.values():
        runs += checker.state.runs
        failures += checker.state.failures
    return runs, failures


async def measure(kind: str, servers: int, delay_loop: float, seconds: float,
                  ports: list[int]) -> dict:
    engine = HealthEngine(make_plan(kind, servers, delay_loop, ports))
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await trio.sleep(delay_loop * 1.5)  # every first run (spread over delay_loop) done
        runs0, fail0 = total_runs(engine)
        cpu0, wall0 = os.times(), time.monotonic()
        await trio.sleep(seconds)
        runs1, fail1 = total_runs(engine)
        cpu1, wall1 = os.times(), time.monotonic()
        rss = rss_mib()
        nursery.cancel_scope.cancel()
    wall = wall1 - wall0
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {
        "kind": kind,
        "servers": servers,
        "offered": servers / delay_loop,
        "rate": (runs1 - runs0) / wall,
        "failed": fail1 - fail0,
        "cpu": 100.0 * cpu / wall,
        "per_check_us": 1e6 * cpu / max(1, runs1 - runs0),
        "rss": rss,
    }


async def client_cost(client: str, port: int, requests: int = 2000, tasks: int = 20) -> dict:
    """CPU per GET with `client` ("h11" = haipvs' probe, "httpx")."""
    from haipvs.health.http import probe_http

    probe = HttpProbe(Endpoint("127.0.0.1", port), (UrlSpec("/health"),), 2.0)
    url = f"http://127.0.0.1:{port}/health"

    async def with_h11() -> None:
        for _ in range(requests // tasks):
            assert (await probe_http(probe)).ok

    async def with_httpx(session) -> None:
        for _ in range(requests // tasks):
            assert (await session.get(url)).status_code == 200

    cpu0, wall0 = os.times(), time.monotonic()
    if client == "h11":
        async with trio.open_nursery() as nursery:
            for _ in range(tasks):
                nursery.start_soon(with_h11)
    else:
        import httpx

        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits) as session, trio.open_nursery() as nursery:
            for _ in range(tasks):
                nursery.start_soon(with_httpx, session)
    cpu1, wall = os.times(), time.monotonic() - wall0
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {"kind": f"GET via {client}", "servers": 1, "offered": float("nan"),
            "rate": requests / wall, "failed": 0, "cpu": 100.0 * cpu / wall,
            "per_check_us": 1e6 * cpu / requests, "rss": rss_mib()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=11000)
    parser.add_argument("--rss-servers", type=int, default=10000)
    parser.add_argument("--http-servers", type=int,
                        help="HTTP_GET servers (default 2000; 6000 with --goals)")
    parser.add_argument("--tcp-servers", type=int, default=22000, help="with --goals")
    parser.add_argument("--idle-seconds", type=float, default=10.0,
                        help="with --goals: a first phase without checks (0 = none)")
    parser.add_argument("--goals", action="store_true",
                        help="issue 18's goals with VRRP lateness (root; bench/checker_goals.py)")
    parser.add_argument("--vrrp-priority", type=int, default=limits.VRRP_PRIORITY_DEFAULT,
                        help="with --goals: nice value of the VRRP thread, "
                        "global.vrrp_priority (default: the daemon's)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--delay-loop", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, help="per scenario (default 10; 20 with --goals)")
    parser.add_argument("--only", choices=SCENARIOS, action="append")
    args = parser.parse_args()
    if args.goals:
        import checker_goals

        if args.http_servers is None:
            args.http_servers = 6000
        if args.seconds is None:
            args.seconds = 20.0  # ~400 adverts at 50 ms per phase: p99 is not one sample
        if args.inside:
            checker_goals.inside(args)
            return
        raise SystemExit(checker_goals.main(args))
    if args.http_servers is None:
        args.http_servers = 2000
    if args.seconds is None:
        args.seconds = 10.0
    rows = []
    for kind in args.only or SCENARIOS:
        if kind in ("tcp", "rss"):
            listeners, ports = deferred_listeners()
            try:
                if kind == "rss":
                    # RSS with N checkers alive at a relaxed delay_loop.
                    row = trio.run(measure, "tcp", args.rss_servers, 10.0, 5.0, ports)
                    row["kind"] = "rss"
                else:
                    row = trio.run(measure, "tcp", args.servers, args.delay_loop, args.seconds,
                                   ports)
            finally:
                for listener in listeners:
                    listener.close()
        elif kind == "http-clients":
            process, ports = start_listeners("http")
            try:
                rows.append(trio.run(client_cost, "h11", ports[0]))
                row = trio.run(client_cost, "httpx", ports[0])
            finally:
                process.kill()
                process.join()
        else:
            mode = "tcp" if kind == "tcp-accept" else "http"
            process, ports = start_listeners(mode)
            try:
                count = args.servers if kind == "tcp-accept" else args.http_servers
                row = trio.run(measure, mode, count, args.delay_loop, args.seconds, ports)
                row["kind"] = kind
            finally:
                process.kill()
                process.join()
        rows.append(row)
    print(f"command: {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"python {sys.version.split()[0]}, trio {trio.__version__}, {os.cpu_count()} cpus\n")
    print("| scenario | servers | offered/s | checks/s | failed | CPU % (1 core=100) "
          "| CPU µs/check | RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['kind']} | {r['servers']} | {r['offered']:.0f} | {r['rate']:.0f} "
              f"| {r['failed']} | {r['cpu']:.0f} | {r['per_check_us']:.0f} | {r['rss']:.1f} |")


if __name__ == "__main__":
    main()
