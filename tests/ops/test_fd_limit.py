"""The daemon raises its soft RLIMIT_NOFILE to the hard limit (keepalived lib/process.c
set_max_file_limit): under systemd's soft 1024, thousands of checks in flight ran out of
descriptors (haipvs/resources.py raise_fd_limit)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROGRAM = textwrap.dedent("""
    import resource
    from haipvs.resources import raise_fd_limit
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 4096))
    print(raise_fd_limit(), resource.getrlimit(resource.RLIMIT_NOFILE))
""")


def test_soft_fd_limit_is_raised_to_the_hard_one_like_systemd_services_need():
    out = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    assert out.strip() == "(1024, 4096) (4096, 4096)"
