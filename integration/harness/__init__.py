"""Test harness: netns topologies, process runner, keepalived/haipvs nodes, packet capture."""
