"""Multi-node integration tests: netns topologies, keepalived interop, the qemu IPVS guest."""
