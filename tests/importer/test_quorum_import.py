"""keepalived's quorum, hysteresis, quorum_up/quorum_down and ha_suspend become the same
haipvs settings; a hysteresis haipvs cannot take is lowered, with a note."""

from pathlib import Path

from haipvs.config import load_config_text
from haipvs.importer import import_keepalived
from haipvs.importer.notes import CHANGED

CORPUS = Path(__file__).parent / "corpus" / "15-tun-sorry.conf"


def test_quorum_settings_are_translated():
    result = import_keepalived(CORPUS)
    web, tls = load_config_text(result.yaml, "imported.yaml").virtual_servers
    assert (web.quorum, web.hysteresis, web.ha_suspend) == (2, 1, True)
    assert tuple(web.quorum_up) == ("/usr/local/bin/pool-state", "up", "web pool")
    assert tuple(web.quorum_down) == ("/usr/local/bin/pool-state", "down")
    # keepalived sets a hysteresis >= quorum to quorum - 1 (check_data.c
    # validate_check_config()), and so does the importer, with a note.
    assert (tls.quorum, tls.hysteresis, tls.ha_suspend) == (2, 1, False)
    (note,) = [n for n in result.notes if n.kind == CHANGED and n.keyword == "hysteresis"]
    assert "keepalived sets it to 1" in str(note)
