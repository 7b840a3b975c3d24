"""regex_no_match / regex options and offsets from the config to a real HTTP exchange
(keepalived check_http.c http_handle_response)."""

from __future__ import annotations

from haipvs.config import load_config_text
from haipvs.health.config_map import specs_from_config
from haipvs.health.http import probe_http
from haipvs.health.spec import Endpoint, HttpProbe
from tests.health.servers import HttpRoute, HttpServer

CONFIG = """\
virtual_servers:
  - address: 192.0.2.100
    port: 80
    real_servers:
      - address: 127.0.0.1
        port: {port}
        http_get:
          url:
            - path: /
              regex: "ERROR"
              regex_no_match: true
              regex_options: [caseless]
              regex_min_offset: 3
              regex_max_offset: 40
"""


def url_probe(port: int) -> HttpProbe:
    (specs,) = specs_from_config(load_config_text(CONFIG.format(port=port))).values()
    probe = specs[0].probe
    assert probe.urls[0].regex_no_match and probe.urls[0].regex_options == ("caseless",)
    return HttpProbe(Endpoint("127.0.0.1", port), probe.urls, 5.0)


async def test_regex_no_match_is_up_until_the_body_says_error(nursery):
    server = HttpServer({"/": HttpRoute(200, b"all fine\n")})
    await nursery.start(server.serve)
    assert (await probe_http(url_probe(server.port))).ok
    server.routes["/"] = HttpRoute(200, b"state: error in backend\n")
    result = await probe_http(url_probe(server.port))
    assert (result.ok, result.reason) == (False, "regex matched (regex_no_match)")
    # an "error" starting after regex_max_offset does not count
    server.routes["/"] = HttpRoute(200, b"x" * 60 + b"error\n")
    assert (await probe_http(url_probe(server.port))).ok
