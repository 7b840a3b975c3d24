"""keepalived BFD_CHECK (check_bfd.c) is refused with the issue-17 reason, in `haipvs check`
(file:line: path: message) and in the importer's note."""

from __future__ import annotations

import pytest

from haipvs import limits
from haipvs.config import ConfigError, load_config_text
from haipvs.importer import import_keepalived

CONFIG = """\
virtual_servers:
  - address: 192.0.2.100
    port: 80
    protocol: TCP
    real_servers:
      - address: 198.51.100.2
        port: 80
        {key}: {{}}
"""


@pytest.mark.parametrize("key", ["bfd_check", "BFD_CHECK"])
def test_bfd_check_key_is_refused_naming_file_line_and_path(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(CONFIG.format(key=key), "bfd.yaml")
    message = str(caught.value)
    assert f"bfd.yaml:8: virtual_servers[0].real_servers[0].{key}:" in message
    assert limits.BFD_CHECK_REFUSED in message
    assert "issue 17" in message


def test_importer_notes_bfd_check_with_the_issue_17_reason(tmp_path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text("virtual_server 192.0.2.100 80 {\n    lb_kind NAT\n    protocol TCP\n"
                    "    real_server 198.51.100.2 80 {\n        BFD_CHECK {\n"
                    "            name bfd1\n        }\n        TCP_CHECK {\n        }\n"
                    "    }\n}\n")
    result = import_keepalived(conf, display="keepalived.conf")
    notes = [n for n in result.notes if n.line == 5]
    assert notes and limits.BFD_CHECK_REFUSED in str(notes[0])
    assert "bfd" not in result.yaml.split("virtual_servers:", 1)[1].lower()
    load_config_text(result.yaml, "imported")  # the rest (the TCP_CHECK) still loads
