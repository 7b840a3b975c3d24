"""The Debian package (issue 19, acceptance 1): `make deb` builds it (lintian must pass), apt
installs it with its dependencies, the installed haipvs works from its installed paths, the
service is neither enabled nor started, `dpkg -r` leaves only the conffile and `dpkg -P`
removes that too. Runs as root on a Debian host (CI); it skips if haipvs is already installed
as a package, so it never replaces one it did not install."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFFILE = Path("/etc/haipvs/lvs.yaml")
ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "MANWIDTH": "80"}


def run(*argv: str, check: bool = True, timeout: float = 600,
        cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=timeout,
                         check=False, cwd=cwd)
    if check:
        assert out.returncode == 0, f"{' '.join(argv)}:\n{out.stdout[-4000:]}{out.stderr[-4000:]}"
    return out


def package_status() -> str:
    out = run("dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "haipvs", check=False)
    return out.stdout.strip() if out.returncode == 0 else "not-installed"


def needs() -> str | None:
    if os.geteuid() != 0:
        return "needs root (installs a package)"
    for tool in ("dpkg-buildpackage", "apt-get", "lintian", "man", "systemd-analyze"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (make deps installs it)"
    if package_status() not in ("not-installed", "un"):
        return "a haipvs package is installed already: not touching it"
    return None


def test_deb_builds_installs_runs_and_purges():
    reason = needs()
    if reason:
        pytest.skip(reason)
    run("make", "-s", "-C", str(ROOT), "deb", timeout=900)
    (deb,) = glob.glob(str(ROOT / "build/deb/haipvs_*.deb"))
    try:
        run("apt-get", "install", "-y", "-q", "--no-install-recommends", deb)
        assert package_status().startswith("ii")
        assert run("/usr/sbin/haipvs", "--version").stdout.startswith("haipvs ")
        # the installed code, even run from a checkout (python -I: no cwd on sys.path)
        where = run("/usr/lib/haipvs/bin/python3", "-I", "-c",
                    "import haipvs; print(haipvs.__file__)", cwd=ROOT).stdout
        assert where.startswith("/usr/lib/haipvs/"), where
        assert "-I -m haipvs" in Path("/usr/sbin/haipvs").read_text()
        assert "OK" in run("/usr/sbin/haipvs", "check", str(CONFFILE)).stdout
        for unit in ("haipvs.service", "haipvs-withdraw.service"):
            run("systemd-analyze", "verify", f"/lib/systemd/system/{unit}")
        # installed, never enabled: a director must not take VIPs before it is configured
        assert not list(Path("/etc/systemd/system").rglob("haipvs*.service"))
        for section, page in (("8", "haipvs"), ("5", "haipvs.yaml")):
            assert f"{page.upper()}({section})" in run("man", section, page).stdout
        assert "SIGNALS" in run("man", "-l", "/usr/share/man/man8/haipvs.8.gz").stdout
        assert "virtual_servers" in run("man", "-l",
                                        "/usr/share/man/man5/haipvs.yaml.5.gz").stdout
        assert Path("/usr/share/bash-completion/completions/haipvs").is_file()

        run("dpkg", "-r", "haipvs")
        assert package_status() == "rc"  # removed, config files kept
        left = [line for line in run("dpkg-query", "-L", "haipvs").stdout.splitlines()
                if Path(line).exists() and not Path(line).is_dir()]
        assert left == [str(CONFFILE)]
        assert not Path("/usr/lib/haipvs").exists() and not Path("/usr/sbin/haipvs").exists()
        run("dpkg", "-P", "haipvs")
        assert package_status() == "not-installed" and not CONFFILE.parent.exists()
    finally:
        run("dpkg", "-P", "haipvs", check=False)
