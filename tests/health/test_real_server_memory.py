"""What each real server costs once the daemon has built its state (issue 18: 10,000 real
servers within 50 MiB). Deterministic: object identity, and tracemalloc's count of live
bytes (no timing, no RSS)."""

from __future__ import annotations

import gc
import random
import tracemalloc

import trio

from haipvs.config import load_config_text
from haipvs.health import HealthEngine, specs_from_config
from haipvs.ipvs import desired
from haipvs.policy.director import Director, Start

# Live bytes per real server (one TCP_CHECK each) for the config model, the director (its
# health copy, weights and first table) and the running health engine: ~1,260 bytes on
# Python 3.11; 2,390 before the layers shared their keys, the models had slots and equal
# checkers were one object.
BYTES_PER_SERVER = 1400


def _config_text(count: int, *, second_service: int = 0, warmup: float = 0.0) -> str:
    servers = "".join(
        f"      - {{address: 198.51.{100 + i // 62500}.{1 + i // 250 % 250}, "
        f"port: {1000 + i % 250}, tcp_check: {{connect_timeout: 3.0, warmup: {warmup}}}}}\n"
        for i in range(count))
    text = f"""vrrp_instances: []
virtual_servers:
  - address: 192.0.2.100
    port: 80
    delay_loop: 10
    real_servers:
{servers}"""
    if second_service:  # the same real servers behind a second service
        text += """  - address: 192.0.2.101
    port: 443
    real_servers:
""" + "".join(servers.splitlines(keepends=True)[:second_service])
    return text


def _build(text: str) -> tuple:
    config = load_config_text(text)
    director = Director(config)
    director.handle(0.0, Start())
    engine = HealthEngine(specs_from_config(config))
    return config, director, engine


def test_every_layer_holds_the_configs_key_objects():
    config, director, engine = _build(_config_text(20, second_service=5))
    plan = specs_from_config(config)
    keys = [key for vs in config.virtual_servers for key in desired.server_keys(vs)]
    assert len(keys) == 25
    by_value = {key: key for key in keys}
    assert len(by_value) == 25  # a server behind two services is two keys
    for held in (list(plan), list(director.health._states), list(director._configured),
                 list(engine._keys())):
        assert len(held) == 25
        assert all(by_value[key] is key for key in held)
    # asked again, the same objects: built once per virtual server
    assert all(a is b for vs in config.virtual_servers
               for a, b in zip(desired.server_keys(vs), desired.server_keys(vs), strict=True))


def test_equal_scalars_and_checkers_are_one_object():
    config = load_config_text(_config_text(500))
    servers = config.virtual_servers[0].real_servers
    assert len({id(rs.port) for rs in servers}) == 250
    assert len({id(rs.address) for rs in servers}) == 2
    assert len({id(rs.checkers) for rs in servers}) == 1  # one tuple, one TcpCheck
    plan = specs_from_config(config)
    assert len({id(spec.probe) for specs in plan.values() for spec in specs}) == 500


def _live_bytes(count: int) -> int:
    """Traced bytes alive once the config is read, the director started and the health
    engine running (its checkers scheduled: first checks up to a day away, none runs)."""
    text = _config_text(count, warmup=86400)

    async def build() -> int:
        async with trio.open_nursery() as nursery:
            config = load_config_text(text)
            director = Director(config)
            director.handle(0.0, Start())
            engine = HealthEngine(specs_from_config(config), rng=random.Random(1))
            await nursery.start(engine.run)
            gc.collect()
            live = tracemalloc.get_traced_memory()[0] - before
            nursery.cancel_scope.cancel()
        del config, director, engine
        return live

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        return trio.run(build)
    finally:
        tracemalloc.stop()


def test_bytes_per_real_server_stay_under_the_bound():
    # The difference of two sizes: what is paid once (imports, caches) cancels out.
    per_server = (_live_bytes(3000) - _live_bytes(1000)) / 2000
    assert per_server <= BYTES_PER_SERVER, f"{per_server:.0f} bytes per real server"
