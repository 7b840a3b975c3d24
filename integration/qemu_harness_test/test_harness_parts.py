"""Host-only checks of the harness' building blocks (no qemu needed)."""

import importlib
import io
import lzma
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # pytest run as a script does not put the repo on sys.path
    sys.path.insert(0, str(REPO_ROOT))
harness = importlib.import_module("integration.qemu.harness")

FAKE_ELF = b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 64


class ChunkedSource:
    """Stands in for qemu's stdout pipe, handing out `size`-byte chunks."""

    def __init__(self, data: bytes, size: int) -> None:
        self._chunks = [data[i : i + size] for i in range(0, len(data), size)]

    def read1(self, _limit: int) -> bytes:
        return self._chunks.pop(0) if self._chunks else b""


CONSOLE = (
    b"[    0.5] boot noise\r\n"
    + harness.START_MARKER.encode()
    + b"\r\nfirst line\r\nd\xc3\xa9j\xc3\xa0 vu\r\nlast, no newline"
    + b"\r\n" + harness.END_MARKER.encode() + b" 3\r\nreboot: Power down\r\n"
)


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 31, 4096])
def test_console_relay_streams_only_the_command_output(chunk_size):
    streamed = io.StringIO()

    relay = harness._ConsoleRelay(ChunkedSource(CONSOLE, chunk_size), streamed)
    relay.join(timeout=10)

    assert relay.command_output() == "first line\ndéjà vu\nlast, no newline"
    assert streamed.getvalue() == "first line\ndéjà vu\nlast, no newline\n"
    assert relay.boot_log() == "[    0.5] boot noise\n"


def test_console_relay_without_start_marker_keeps_everything_as_boot_log():
    console = b"Kernel panic - not syncing: VFS\r\n"

    relay = harness._ConsoleRelay(ChunkedSource(console, 5), io.StringIO())
    relay.join(timeout=10)

    assert relay.command_output() == ""
    assert relay.boot_log() == "Kernel panic - not syncing: VFS\n"


def test_extract_vmlinux_finds_the_xz_payload_after_the_setup_code():
    payload = lzma.compress(FAKE_ELF, format=lzma.FORMAT_XZ)
    bzimage = b"MZ setup code \xfd7zXZ\x00 not really" + payload + b"\x00trailing size"

    assert harness.extract_vmlinux(bzimage) == FAKE_ELF


def test_extract_vmlinux_rejects_an_image_without_a_kernel():
    with pytest.raises(harness.GuestUnavailable):
        harness.extract_vmlinux(b"MZ" + bytes(1000))


def test_module_load_order_puts_dependencies_first(tmp_path):
    (tmp_path / "modules.dep").write_text(
        "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/netfs/netfs.ko\n"
        "kernel/net/9p/9pnet.ko:\n"
        "kernel/fs/netfs/netfs.ko:\n"
        "kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko\n"
        "kernel/drivers/virtio/virtio.ko:\n"
    )
    (tmp_path / "modules.builtin").write_text("kernel/fs/overlayfs/overlay.ko\n")

    order = harness.resolve_module_load_order(tmp_path, ["9pnet-virtio", "9p", "overlay"])

    assert order == [
        "kernel/net/9p/9pnet.ko",
        "kernel/drivers/virtio/virtio.ko",
        "kernel/net/9p/9pnet_virtio.ko",
        "kernel/fs/netfs/netfs.ko",
        "kernel/fs/9p/9p.ko",
    ]


def test_module_load_order_reports_a_missing_module(tmp_path):
    (tmp_path / "modules.dep").write_text("kernel/net/9p/9pnet.ko:\n")

    with pytest.raises(harness.GuestUnavailable, match="ip_vs"):
        harness.resolve_module_load_order(tmp_path, ["ip_vs"])


@pytest.mark.skipif(shutil.which("cpio") is None, reason="cpio not installed (apt install cpio)")
def test_cpio_writer_output_is_readable_by_cpio(tmp_path):
    writer = harness._CpioWriter()
    writer.directory("bin")
    writer.file("bin/tool", b"#!/bin/sh\n", 0o755)
    writer.char_device("console", 5, 1)
    writer.file("odd-size", b"x" * 5)
    archive = writer.finish()

    listing = subprocess.run(
        ["cpio", "-itv"], input=archive, capture_output=True, check=True, timeout=30
    ).stdout.decode()

    lines = listing.splitlines()
    assert [line.split()[-1] for line in lines] == ["bin", "bin/tool", "console", "odd-size"]
    assert lines[1].startswith("-rwxr-xr-x")
    assert lines[2].startswith("crw-------")


def test_static_elf_detection_tells_busybox_from_a_dynamic_binary():
    dynamic = Path(sys.executable).resolve().read_bytes()
    assert not harness._is_static_elf(dynamic)
    if Path("/bin/busybox").is_file():
        assert harness._is_static_elf(Path("/bin/busybox").read_bytes())


def guest_result(**overrides):
    fields = dict(
        args=["true"], returncode=0, stdout="", boot_log="", junit_path=None,
        boot_seconds=3.0, wall_seconds=4.0,
    )
    return harness.GuestResult(**{**fields, **overrides})


def test_failure_summary_is_none_when_the_command_ran_to_completion():
    result = guest_result(
        returncode=harness.EXIT_GUEST_FAILED, command_started=True, command_finished=True
    )

    assert harness.failure_summary(result) is None


def test_failure_summary_of_a_boot_failure_shows_the_console_tail():
    console = "".join(f"line {i}\n" for i in range(100)) + "Kernel panic - not syncing\n"
    result = guest_result(returncode=harness.EXIT_GUEST_FAILED, boot_log=console,
                          qemu_returncode=0)

    summary = harness.failure_summary(result)

    assert summary.startswith("guest failed before the command started (qemu exit status 0)")
    assert summary.endswith("line 99\nKernel panic - not syncing")
    assert "line 60\n" not in summary


def test_failure_summary_of_a_timeout_during_boot_says_so():
    result = guest_result(returncode=harness.EXIT_TIMEOUT, timed_out=True)

    summary = harness.failure_summary(result, timeout=30)

    assert summary == (
        "guest run exceeded the timeout of 30 s; qemu was killed before the command started; "
        "no console output at all"
    )


def test_command_script_runs_argv_in_the_repo_with_the_guest_environment():
    script = harness._command_script(
        ["python", "-m", "pytest", "a b.py"], Path("/srv/haipvs"), {"EXTRA": "x y"},
        junit=True, colors=False,
    )

    lines = script.splitlines()
    exports = dict(
        shlex.split(line)[1].split("=", 1) for line in lines if line.startswith("export ")
    )
    assert lines[:2] == ["set -e", "cd /srv/haipvs"]
    assert exports["HAIPVS_GUEST"] == "1"
    assert exports["EXTRA"] == "x y"
    assert exports["PYTEST_ADDOPTS"].endswith("--junitxml=/run/haipvs-out/junit.xml")
    assert "/usr/sbin" in exports["PATH"].split(":")
    assert lines[-1] == "exec python -m pytest 'a b.py' 2>&1"
