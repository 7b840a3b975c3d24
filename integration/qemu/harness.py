"""Run commands inside a qemu guest that has a real IPVS kernel (Debian's linux-image-amd64).

The host kernel has no IPVS, so real-IPVS tests run in a throwaway guest:

* kernel: the uncompressed vmlinux extracted from Debian's /boot/vmlinuz-<ver>, booted via PVH;
* initramfs: a static busybox, the virtio/9p/overlay modules and ``guest-init`` as /init;
* root: the host's ``/`` over virtio-9p, read-only, under a tmpfs overlay, so the host's Python,
  the project's venv and ipvsadm run unchanged in the guest and nothing is written back;
* results: a per-run host directory shared read-write over a second 9p export carries the
  command script in and the exit status and junit XML out;
* no NIC at all; tests build their own netns/veth topologies inside the guest.

Stdlib only: ``run-in-guest`` uses this module before any venv exists.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import fcntl
import gzip
import hashlib
import lzma
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

QEMU_DIR = Path(__file__).resolve().parent
REPO_ROOT = QEMU_DIR.parent.parent
BUILD_DIR = QEMU_DIR / "build"
GUEST_INIT = QEMU_DIR / "guest-init"

QEMU_BINARY = "qemu-system-x86_64"
# Env var that tells code it runs inside the guest (set for the guest command).
GUEST_ENV_VAR = "HAIPVS_GUEST"
# Where the result share is mounted inside the guest (also exported as HAIPVS_GUEST_OUTDIR).
GUEST_OUTDIR = "/run/haipvs-out"
GUEST_JUNIT = f"{GUEST_OUTDIR}/junit.xml"

# Keep in sync with guest-init.
START_MARKER = "@@HAIPVS-GUEST-COMMAND-START@@"
END_MARKER = "@@HAIPVS-GUEST-COMMAND-END@@"

# Exit codes of run-in-guest when the command itself produced none (as timeout(1) does).
EXIT_TIMEOUT = 124
EXIT_GUEST_FAILED = 125

# Modules the initramfs needs before it can reach the host root; everything else (ip_vs,
# schedulers, veth, ...) is loaded by the host's modprobe from the 9p-mounted module tree.
INITRAMFS_MODULES = ("virtio_pci", "9pnet_virtio", "9p", "overlay")
# Bump when the initramfs layout changes so cached builds are redone.
BUILD_FORMAT = "3"

GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class GuestUnavailable(RuntimeError):
    """The host lacks something the guest needs; the message says what to install."""


@dataclasses.dataclass(frozen=True)
class Kernel:
    version: str
    vmlinuz: Path
    modules_dir: Path


@dataclasses.dataclass
class GuestResult:
    """Outcome of one guest run, shaped like subprocess.CompletedProcess."""

    args: list[str]
    returncode: int
    stdout: str  # the command's output (stdout and stderr interleaved)
    boot_log: str  # console output before the command started
    junit_path: Path | None  # set when a junit XML came back
    boot_seconds: float  # qemu start to command start
    wall_seconds: float  # qemu start to qemu exit
    timed_out: bool = False
    command_started: bool = False  # the guest got as far as starting the command
    command_finished: bool = False  # its exit status came back (returncode is the command's)
    qemu_returncode: int | None = None

    def check_returncode(self) -> None:
        if self.returncode != 0:
            raise subprocess.CalledProcessError(self.returncode, self.args, self.stdout)


# ---------------------------------------------------------------- host requirements


def find_kernel(version: str | None = None) -> Kernel:
    """The installed kernel to boot: $HAIPVS_QEMU_KERNEL, else the newest one with ip_vs."""
    version = version or os.environ.get("HAIPVS_QEMU_KERNEL")
    candidates = [version] if version else _installed_kernel_versions()
    for candidate in candidates:
        vmlinuz = Path("/boot") / f"vmlinuz-{candidate}"
        modules_dir = Path("/lib/modules") / candidate
        if vmlinuz.is_file() and _find_module_file(modules_dir, "ip_vs"):
            return Kernel(candidate, vmlinuz, modules_dir)
    wanted = f"kernel {version}" if version else "a kernel"
    raise GuestUnavailable(
        f"no {wanted} with ip_vs modules in /boot and /lib/modules "
        "(apt install linux-image-amd64)"
    )


def _installed_kernel_versions() -> list[str]:
    versions = [p.name.removeprefix("vmlinuz-") for p in Path("/boot").glob("vmlinuz-*")]
    return sorted(versions, key=_version_key, reverse=True)


def _version_key(version: str) -> list[tuple[int, str]]:
    parts = re.split(r"[.-]", version)
    return [(int(part), "") if part.isdigit() else (-1, part) for part in parts]


def find_static_busybox() -> Path:
    for candidate in ("/bin/busybox", "/usr/bin/busybox", "/usr/lib/initramfs-tools/bin/busybox"):
        path = Path(candidate)
        if path.is_file() and _is_static_elf(path.read_bytes()):
            return path
    raise GuestUnavailable("no statically linked busybox (apt install busybox-static)")


def unavailable_reason() -> str | None:
    """Why the guest cannot run on this host (install hint), or None when it can."""
    if shutil.which(QEMU_BINARY) is None:
        return f"{QEMU_BINARY} not installed (apt install qemu-system-x86)"
    try:
        find_kernel()
        find_static_busybox()
    except GuestUnavailable as exc:
        return str(exc)
    if not Path("/sbin/modprobe").exists():
        return "no /sbin/modprobe for the guest's module loading (apt install kmod)"
    return None


def in_guest() -> bool:
    return os.environ.get(GUEST_ENV_VAR) == "1"


# ---------------------------------------------------------------- building vmlinux + initramfs


_ELF_MAGIC = b"\x7fELF"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_GZIP_MAGIC = b"\x1f\x8b\x08"


def extract_vmlinux(bzimage: bytes) -> bytes:
    """The ELF vmlinux inside a bzImage (xz or gzip payload), as the kernel's extract-vmlinux."""
    if bzimage.startswith(_ELF_MAGIC):
        return bzimage
    for magic, decompress in ((_XZ_MAGIC, _xz_stream), (_GZIP_MAGIC, _gzip_stream)):
        offset = bzimage.find(magic)
        while offset != -1:
            with contextlib.suppress(lzma.LZMAError, OSError, EOFError, gzip.BadGzipFile):
                payload = decompress(bzimage[offset:])
                if payload.startswith(_ELF_MAGIC):
                    return payload
            offset = bzimage.find(magic, offset + 1)
    raise GuestUnavailable("no xz or gzip compressed ELF vmlinux found in the kernel image")


def _xz_stream(data: bytes) -> bytes:
    # A decompressor object stops at the end of the first stream and ignores trailing bytes.
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)


def _gzip_stream(data: bytes) -> bytes:
    import zlib

    return zlib.decompressobj(wbits=31).decompress(data)


def _is_static_elf(data: bytes) -> bool:
    """True for a 64-bit little-endian ELF without a PT_INTERP (dynamic loader) header."""
    if not data.startswith(_ELF_MAGIC) or data[4] != 2 or data[5] != 1:
        return False
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    pt_interp = 3
    return all(
        struct.unpack_from("<I", data, phoff + i * phentsize)[0] != pt_interp
        for i in range(phnum)
    )


def _find_module_file(modules_dir: Path, name: str) -> str | None:
    """The modules.dep-relative path of module `name` (dash/underscore-insensitive)."""
    dep = modules_dir / "modules.dep"
    if not dep.is_file():
        return None
    wanted = name.replace("-", "_")
    for line in dep.read_text().splitlines():
        path = line.split(":", 1)[0]
        if _module_name(path) == wanted:
            return path
    return None


def _module_name(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    return base.split(".ko", 1)[0].replace("-", "_")


def resolve_module_load_order(modules_dir: Path, names: Iterable[str]) -> list[str]:
    """modules.dep paths for `names` and their dependencies, each after its dependencies."""
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for line in (modules_dir / "modules.dep").read_text().splitlines():
        if ":" not in line:
            continue
        path, rest = line.split(":", 1)
        deps[path] = rest.split()
        by_name[_module_name(path)] = path
    order: list[str] = []

    def visit(path: str) -> None:
        if path in order:
            return
        # modules.dep lists the full transitive closure, so the recursion depth is bounded.
        for dependency in deps.get(path, []):
            visit(dependency)
        order.append(path)

    for name in names:
        wanted = name.replace("-", "_")
        if wanted not in by_name:
            builtin = modules_dir / "modules.builtin"
            if builtin.is_file() and any(
                _module_name(p) == wanted for p in builtin.read_text().split()
            ):
                continue  # compiled into the kernel, nothing to load
            raise GuestUnavailable(f"module {name} not found in {modules_dir}/modules.dep")
        visit(by_name[wanted])
    return order


def _read_module(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    if path.name.endswith(".zst"):
        zstd = shutil.which("zstd")
        if zstd is None:
            raise GuestUnavailable(f"{path} is zstd-compressed (apt install zstd)")
        return subprocess.run([zstd, "-dc", str(path)], check=True, capture_output=True).stdout
    return data


class _CpioWriter:
    """Writes an uncompressed newc cpio archive, the format the kernel unpacks as initramfs."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._inode = 1

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)):
        encoded = name.encode() + b"\0"
        fields = (
            self._inode, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0
        )
        self._inode += 1
        header = b"070701" + b"".join(b"%08x" % field for field in fields)
        self._chunks += [header, encoded, b"\0" * (-(len(header) + len(encoded)) % 4)]
        self._chunks += [data, b"\0" * (-len(data) % 4)]

    def directory(self, name: str) -> None:
        self._entry(name, 0o040755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, 0o100000 | mode, data)

    def char_device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, 0o020600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return b"".join(self._chunks)


MODPROBE_HELPER = b"""#!/bin/busybox sh
# kernel.modprobe: on-demand module loads run with the initramfs as root; use the host's
# modprobe and module tree through the overlay root instead.
exec /bin/busybox chroot /newroot /sbin/modprobe "$@"
"""


def build_initramfs(kernel: Kernel, busybox: Path) -> bytes:
    cpio = _CpioWriter()
    for directory in ("bin", "dev", "proc", "sys", "modules", "lower", "rw", "newroot"):
        cpio.directory(directory)
    # The kernel opens /dev/console for PID 1's stdio before devtmpfs is mounted.
    cpio.char_device("dev/console", 5, 1)
    cpio.file("bin/busybox", busybox.read_bytes(), 0o755)
    cpio.file("init", GUEST_INIT.read_bytes(), 0o755)
    cpio.file("modprobe-in-newroot", MODPROBE_HELPER, 0o755)
    load_order = []
    for relative in resolve_module_load_order(kernel.modules_dir, INITRAMFS_MODULES):
        name = relative.rsplit("/", 1)[-1].split(".ko", 1)[0] + ".ko"
        cpio.file(f"modules/{name}", _read_module(kernel.modules_dir / relative))
        load_order.append(name)
    cpio.file("modules.load", "".join(f"{name}\n" for name in load_order).encode())
    return cpio.finish()


def _build_key(kernel: Kernel, busybox: Path) -> str:
    digest = hashlib.sha256(BUILD_FORMAT.encode())
    for path in (kernel.vmlinuz, busybox, kernel.modules_dir / "modules.dep"):
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    digest.update(GUEST_INIT.read_bytes())
    digest.update(MODPROBE_HELPER)
    digest.update(repr(INITRAMFS_MODULES).encode())
    return digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def build_artifacts(kernel: Kernel | None = None, build_dir: Path = BUILD_DIR) -> tuple[Path, Path]:
    """(vmlinux, initramfs) for the kernel, cached under build_dir/<version>/."""
    kernel = kernel or find_kernel()
    busybox = find_static_busybox()
    out = build_dir / kernel.version
    out.mkdir(parents=True, exist_ok=True)
    vmlinux, initramfs, stamp = out / "vmlinux", out / "initramfs.cpio", out / "build-key"
    key = _build_key(kernel, busybox)
    # Parallel runs (several pytest sessions) must not build over each other.
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text() == key and vmlinux.is_file():
            return vmlinux, initramfs
        _write_atomically(vmlinux, extract_vmlinux(kernel.vmlinuz.read_bytes()))
        _write_atomically(initramfs, build_initramfs(kernel, busybox))
        _write_atomically(stamp, key.encode())
    return vmlinux, initramfs


# ---------------------------------------------------------------- running the guest


def qemu_command(
    vmlinux: Path, initramfs: Path, out_dir: Path, *, mem_mib: int = 512, cpus: int = 1
) -> list[str]:
    accel = os.environ.get("HAIPVS_QEMU_ACCEL", "tcg")
    append = " ".join((
        "console=ttyS0",
        "panic=-1",  # reboot at once on panic; -no-reboot turns that into qemu exiting
        "quiet",
        "loglevel=4",
        "nokaslr",
        "mitigations=off",  # nothing to protect in a throwaway guest; faster under TCG
        "8250.nr_uarts=1",
        "rdinit=/init",
    ))
    return [
        QEMU_BINARY,
        "-accel", accel,
        "-cpu", os.environ.get("HAIPVS_QEMU_CPU", "max"),
        "-smp", str(cpus),
        "-m", str(mem_mib),
        "-nodefaults",
        "-no-user-config",
        "-no-reboot",
        "-display", "none",
        "-nic", "none",
        "-chardev", "stdio,id=console,signal=off",
        "-serial", "chardev:console",
        "-kernel", str(vmlinux),
        "-initrd", str(initramfs),
        "-append", append,
        "-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
        "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
        "-fsdev", f"local,id=haipvsout,path={out_dir},security_model=none",
        "-device", "virtio-9p-pci,fsdev=haipvsout,mount_tag=haipvsout",
    ]  # fmt: skip


def _command_script(
    argv: Sequence[str], cwd: Path, env: dict[str, str], junit: bool, colors: bool
) -> str:
    environment = {
        "PATH": GUEST_PATH,
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "TERM": os.environ.get("TERM", "dumb") if colors else "dumb",
        "PY_COLORS": "1" if colors else "0",
        "COLUMNS": str(shutil.get_terminal_size().columns),
        "PYTHONDONTWRITEBYTECODE": "1",  # the overlay is in guest RAM; keep it small
        GUEST_ENV_VAR: "1",
        "HAIPVS_GUEST_OUTDIR": GUEST_OUTDIR,
    }
    if junit:
        environment["PYTEST_ADDOPTS"] = (
            f"{os.environ.get('PYTEST_ADDOPTS', '')} --junitxml={GUEST_JUNIT}".strip()
        )
    environment.update(env)
    lines = ["set -e", f"cd {shlex.quote(str(cwd))}"]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in environment.items()]
    lines.append(f"exec {shlex.join(argv)} 2>&1")
    return "\n".join(lines) + "\n"


class _ConsoleRelay:
    """Reads the serial console: keeps the boot log, streams only the command's output."""

    _START = START_MARKER + "\n"
    _END = "\n" + END_MARKER  # guest-init prints a newline before the end marker

    def __init__(self, source, stream: TextIO | None) -> None:
        self._source = source
        self._stream = stream
        self._text = ""
        self._start: int | None = None  # where the command's output begins in _text
        self._end: int | None = None  # where it ends
        self.start_time: float | None = None
        self._thread = threading.Thread(target=self._run, name="qemu-console", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending_cr = ""  # a trailing "\r" whose "\n" may come in the next chunk
        streamed = 0  # end of what has been written to the stream, as an index into _text
        while chunk := self._source.read1(65536):
            text = pending_cr + decoder.decode(chunk)
            pending_cr = "\r" if text.endswith("\r") else ""
            searched_to = len(self._text)
            # The guest's serial tty turns "\n" into "\r\n".
            self._text += text.removesuffix("\r").replace("\r\n", "\n")
            self._find_markers(searched_to)
            if self._start is None or self._stream is None:
                continue
            # Until the end marker shows up, hold back a tail that could be its beginning.
            safe = self._end if self._end is not None else len(self._text) - len(self._END)
            if safe > max(streamed, self._start):
                self._stream.write(self._text[max(streamed, self._start) : safe])
                self._stream.flush()
                streamed = safe
        if self._start is not None and self._stream is not None:
            output = self.command_output()
            rest = output[max(streamed - self._start, 0) :]
            # Keep whatever the caller prints next on a line of its own.
            self._stream.write(rest + ("\n" if output and not output.endswith("\n") else ""))
            self._stream.flush()

    def _find_markers(self, searched_to: int) -> None:
        if self._start is None:
            index = self._text.find(self._START, max(searched_to - len(self._START), 0))
            if index == -1:
                return
            self._start = index + len(self._START)
            self.start_time = time.monotonic()
            searched_to = self._start
        if self._end is None:
            index = self._text.find(self._END, max(searched_to - len(self._END), self._start))
            if index != -1:
                self._end = index

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def boot_log(self) -> str:
        return self._text if self._start is None else self._text[: self._start - len(self._START)]

    def command_output(self) -> str:
        if self._start is None:
            return ""
        return self._text[self._start : self._end]


def run_in_guest(
    argv: Sequence[str],
    *,
    cwd: Path | str = REPO_ROOT,
    env: dict[str, str] | None = None,
    junit_path: Path | str | None = None,
    mem_mib: int = 512,
    cpus: int = 1,
    timeout: float = 900,
    stream: TextIO | None = None,
) -> GuestResult:
    """Boot a guest, run argv in cwd as root, power off; returns its exit code and output.

    With junit_path, PYTEST_ADDOPTS in the guest gets --junitxml pointing at the result share
    and the XML is copied to junit_path. stream receives the command's output live.
    Raises GuestUnavailable when the host lacks qemu/the kernel; a guest that fails to boot or
    runs past `timeout` gives returncode EXIT_GUEST_FAILED / EXIT_TIMEOUT.
    """
    reason = unavailable_reason()
    if reason:
        raise GuestUnavailable(reason)
    vmlinux, initramfs = build_artifacts()
    colors = bool(stream is not None and stream.isatty())
    with tempfile.TemporaryDirectory(prefix="haipvs-guest-") as tmp:
        out_dir = Path(tmp)
        (out_dir / "command.sh").write_text(
            _command_script(argv, Path(cwd).resolve(), env or {}, junit_path is not None, colors)
        )
        command = qemu_command(vmlinux, initramfs, out_dir, mem_mib=mem_mib, cpus=cpus)
        started = time.monotonic()
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        relay = _ConsoleRelay(proc.stdout, stream)
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            if proc.poll() is None:
                proc.kill()  # by PID: only the qemu this call started
                proc.wait()
            relay.join(timeout=10)
        wall = time.monotonic() - started
        boot = (relay.start_time - started) if relay.start_time else wall
        status_file = out_dir / "exit-status"
        finished = not timed_out and status_file.is_file()
        if timed_out:
            returncode = EXIT_TIMEOUT
        elif finished:
            returncode = int(status_file.read_text().strip())
        else:
            returncode = EXIT_GUEST_FAILED
        copied_junit = None
        guest_junit = out_dir / "junit.xml"
        if junit_path is not None and guest_junit.is_file():
            copied_junit = Path(junit_path)
            copied_junit.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(guest_junit, copied_junit)
    return GuestResult(
        args=list(argv),
        returncode=returncode,
        stdout=relay.command_output(),
        boot_log=relay.boot_log(),
        junit_path=copied_junit,
        boot_seconds=boot,
        wall_seconds=wall,
        timed_out=timed_out,
        command_started=relay.start_time is not None,
        command_finished=finished,
        qemu_returncode=proc.returncode,
    )


def failure_summary(result: GuestResult, timeout: float | None = None) -> str | None:
    """A one-paragraph explanation when the guest itself failed (not the command)."""
    if result.timed_out:
        limit = f" of {timeout:g} s" if timeout else ""
        problem = f"guest run exceeded the timeout{limit}; qemu was killed"
        if result.command_started:
            return problem
        return f"{problem} before the command started; {_console_tail(result.boot_log)}"
    if result.command_finished:
        return None
    if not result.command_started:
        return (
            f"guest failed before the command started (qemu exit status "
            f"{result.qemu_returncode}); {_console_tail(result.boot_log)}"
        )
    return (
        f"guest stopped before the command finished (qemu exit status "
        f"{result.qemu_returncode}); the output so far is above"
    )


def _console_tail(console: str, lines: int = 40) -> str:
    tail = "\n".join(console.strip().splitlines()[-lines:])
    return f"last console lines:\n{tail}" if tail else "no console output at all"


def run_guest_pytest(
    paths: Sequence[str | Path],
    junit_path: Path | str,
    *,
    pytest_args: Sequence[str] = (),
    python: str | None = None,
    **kwargs,
) -> GuestResult:
    """Run `python -m pytest paths` in the guest (in the repo) and bring back its junit XML.

    The Python is the one running this function (the project's venv) unless given.
    Keyword arguments go to run_in_guest (mem_mib, cpus, timeout, stream, env).
    """
    argv = [
        python or sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
        *pytest_args, *(str(p) for p in paths),
    ]  # fmt: skip
    return run_in_guest(argv, junit_path=junit_path, **kwargs)


def assert_guest_pytest_passes(
    paths: Sequence[str | Path], junit_path: Path | str, **kwargs
) -> GuestResult:
    """For a host-side pytest test that runs a whole guest session as one test.

    Skips (with the install hint) when this host cannot run the guest or when already inside
    it; fails with the guest's output unless the guest session exited 0. Keyword arguments
    go to run_guest_pytest.
    """
    import pytest  # only this helper needs pytest; the rest of the module is stdlib-only

    if in_guest():
        pytest.skip("already inside the qemu guest; no nested qemu")
    if reason := unavailable_reason():
        pytest.skip(f"qemu guest unavailable: {reason}")
    result = run_guest_pytest(paths, junit_path, **kwargs)
    if result.returncode != 0:
        problem = failure_summary(result, kwargs.get("timeout"))
        output = result.stdout[-30000:]
        pytest.fail(
            f"guest pytest exited {result.returncode}"
            f"{f': {problem}' if problem else ''}\n{output}",
            pytrace=False,
        )
    return result
