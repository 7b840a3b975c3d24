"""`sorry_server_inhibit` (keepalived 2.2.7 check_parser.c ssvri_handler): the sorry server
stays in the IPVS table at weight 0 while the service has its quorum, instead of being
removed.

keepalived/check/ipwrapper.c: init_service_vs() adds an inhibited sorry server at once with
weight 0 ("Make sure the sorry server is configured with weight 0"); update_quorum_state()
"Enabling" it when the quorum is lost (ADD_DEST of a set inhibited server is an EDIT_DEST
to its weight, ipvswrapper.c ipvs_cmd) and "Disabling" it when the quorum is back (its
DEL_DEST becomes an EDIT_DEST to weight 0). A sorry server that is also one of the real
servers (s_svr_duplicates_rs) is never added on its own: the real server's entry is it.
At stop clear_service_vs() removes it regardless ("Ensure removed if inhibit_on_failure
set"), which the release of the owned services does too.

Pure: the destinations desired.virtual_service computed for a service with its quorum, and
the sorry server's weight-0 destination, in; the destinations to program, out.
"""

from __future__ import annotations

from collections.abc import Sequence

from haipvs.ipvs.model import Destination, DestKey


def with_inhibited_sorry(dests: Sequence[Destination], sorry: Destination,
                         real_server_keys: Sequence[DestKey]) -> tuple[Destination, ...]:
    """`dests` plus the sorry server at weight 0, unless it is one of the real servers."""
    if sorry.key in real_server_keys:
        return tuple(dests)
    return (*dests, sorry)


__all__ = ["with_inhibited_sorry"]
