"""Sans-I/O VRRP core (codec, receive ladder, state machine). Import from `haipvs.vrrp.core`."""
