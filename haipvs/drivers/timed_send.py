"""Packets the kernel sends at a set time, without this process: io_uring.

Why: the VRRP thread shares the GIL with the checkers. When its timer wakes it, it first
waits for the GIL (up to the switch interval), and a busy main thread takes it back one
interval later, often before the advert is out. That made the advert lateness p99 under
checker load 0.3-1 ms where keepalived, whose VRRP process carries no load, has 0.2 ms
(docs/benchmarks.md). A sendmsg linked behind an absolute io_uring TIMEOUT is sent by the
kernel when the timer expires, whoever holds the GIL: the thread only has to hand it over
before the deadline, and it does that TIMED_LEAD early (haipvs.drivers.vrrp_runtime).

The ring is driven through ctypes, as Python 3.11 has no io_uring binding: one
io_uring_enter per advert. The submitting thread runs the completion (kernel task_work),
so the ring is created and used in one thread. A TIMEOUT that expires completes with
-ETIME, which would break the link; IORING_TIMEOUT_ETIME_SUCCESS (Linux 5.16) makes it a
success, so an expired timer sends the packet and a removed one (TIMEOUT_REMOVE, `cancel`)
cancels it. `open_timed_sender()` proves exactly that on the running kernel (a timeout
linked to a NOP) and answers None where io_uring is missing, disabled
(kernel.io_uring_disabled, a seccomp filter: the unit file allows the three syscalls) or
lacks the flag; the caller then sends from its own timer, as before.

Only on x86-64: there user-space stores and loads to the shared rings are ordered without
explicit barriers (TSO), which Python's mmap writes cannot express.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import platform
import socket
import struct
from typing import NamedTuple

SYS_IO_URING_SETUP = 425  # the same on every architecture (the unified syscall table)
SYS_IO_URING_ENTER = 426
IORING_ENTER_GETEVENTS = 1
IORING_FEAT_SINGLE_MMAP = 1
IORING_OFF_SQES = 0x10000000
IORING_OP_NOP = 0
IORING_OP_SENDMSG = 9
IORING_OP_TIMEOUT = 11
IORING_OP_TIMEOUT_REMOVE = 12
IOSQE_IO_LINK = 1 << 2
IORING_TIMEOUT_ABS = 1 << 0
IORING_TIMEOUT_ETIME_SUCCESS = 1 << 5
RING_ENTRIES = 32  # each timed send takes two; the queue is submitted at once
MAX_IN_FLIGHT = 256  # a send waits at most one advert interval: a few per instance
CANCEL_WAITS = 64  # io_uring_enter rounds a cancel waits for its send's completion

# user_data: token * 4 + what the entry is
_TIMEOUT, _SEND, _CONTROL = 0, 1, 2

_SQE = struct.Struct("=BBHiQQIIQHHiQQ")  # struct io_uring_sqe (64 bytes)
_CQE = struct.Struct("=QiI")  # struct io_uring_cqe (16 bytes)
_U32 = struct.Struct("=I")
_CMSG_HEADER = socket.CMSG_LEN(0)


class _Params(ctypes.Structure):  # struct io_uring_params
    _fields_ = [("sq_entries", ctypes.c_uint32), ("cq_entries", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("sq_thread_cpu", ctypes.c_uint32),
                ("sq_thread_idle", ctypes.c_uint32), ("features", ctypes.c_uint32),
                ("wq_fd", ctypes.c_uint32), ("resv", ctypes.c_uint32 * 3),
                ("sq_off", ctypes.c_uint32 * 8), ("sq_user_addr", ctypes.c_uint64),
                ("cq_off", ctypes.c_uint32 * 8), ("cq_user_addr", ctypes.c_uint64)]


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.c_void_p), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class _Timespec(ctypes.Structure):  # struct __kernel_timespec
    _fields_ = [("sec", ctypes.c_int64), ("nsec", ctypes.c_int64)]


class Completion(NamedTuple):
    token: int
    result: int  # bytes sent, or -errno (-ECANCELED: cancelled before its time)


class _Send:
    """The buffers the kernel reads when the timer expires: alive until the completion."""

    __slots__ = ("control", "iov", "msg", "name", "payload", "when")

    def __init__(self, when_ns: int, payload: bytes, name: bytes, control: bytes) -> None:
        self.when = _Timespec(*divmod(when_ns, 1_000_000_000))
        self.payload = ctypes.create_string_buffer(payload, len(payload))
        self.name = ctypes.create_string_buffer(name, len(name))
        self.control = ctypes.create_string_buffer(control, max(1, len(control)))
        self.iov = _Iovec(ctypes.addressof(self.payload), len(payload))
        self.msg = _Msghdr(ctypes.addressof(self.name), len(name), ctypes.addressof(self.iov), 1,
                           ctypes.addressof(self.control) if control else None, len(control), 0)


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _syscall(number: int, *args: object) -> int:
    result = _libc.syscall(number, *args)
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"io_uring: {os.strerror(code)}")
    return result


def control_bytes(ancillary: list[tuple[int, int, bytes]]) -> bytes:
    """sendmsg's ancillary data as the kernel reads it (struct cmsghdr, each padded)."""
    out = b""
    for level, kind, data in ancillary:
        item = struct.pack("@Nii", _CMSG_HEADER + len(data), level, kind) + data
        out += item.ljust(socket.CMSG_SPACE(len(data)), b"\0")
    return out


def sockaddr_bytes(family: int, address: tuple) -> bytes:
    """struct sockaddr_in / sockaddr_in6 for a socket-module address tuple."""
    if family == socket.AF_INET:
        return struct.pack("=H", socket.AF_INET) + struct.pack(
            "!H4s8x", address[1], socket.inet_pton(socket.AF_INET, address[0]))
    host, port, flowinfo, scope_id = address
    return struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", port, flowinfo) + \
        socket.inet_pton(socket.AF_INET6, host) + struct.pack("=I", scope_id)


class TimedSender:
    """One io_uring ring. `send_at` queues a packet for a CLOCK_MONOTONIC time (ns),
    `cancel` withdraws it unless already sent, `completions` reports finished sends.
    Readable (`fileno`) when completions wait. One thread only (see the module doc)."""

    def __init__(self) -> None:
        params = _Params()
        self._fd = _syscall(SYS_IO_URING_SETUP, RING_ENTRIES, ctypes.byref(params))
        try:
            if not params.features & IORING_FEAT_SINGLE_MMAP:
                raise OSError(errno.ENOTSUP, "io_uring: no single ring mapping (Linux < 5.4)")
            self._entries = params.sq_entries
            self._cq_entries = params.cq_entries
            sq, cq = params.sq_off, params.cq_off
            self._sq_tail, self._sq_array = sq[1], sq[6]
            self._cq_head, self._cq_tail, self._cqes = cq[0], cq[1], cq[5]
            size = max(self._sq_array + 4 * self._entries, self._cqes + 16 * self._cq_entries)
            prot = mmap.PROT_READ | mmap.PROT_WRITE
            self._ring = mmap.mmap(self._fd, size, mmap.MAP_SHARED, prot, offset=0)
            self._sqes = mmap.mmap(self._fd, 64 * self._entries, mmap.MAP_SHARED, prot,
                                   offset=IORING_OFF_SQES)
            # the offsets say where the masks are kept, not the masks
            self._sq_mask = _U32.unpack_from(self._ring, sq[2])[0]
            self._cq_mask = _U32.unpack_from(self._ring, cq[2])[0]
        except BaseException:
            os.close(self._fd)
            raise
        self._next_token = 1
        self._sends: dict[int, _Send] = {}
        self._done: list[Completion] = []  # reaped while a cancel waited
        self._control = _Timespec(0, 0)

    def fileno(self) -> int:
        return self._fd

    @property
    def in_flight(self) -> int:
        return len(self._sends)

    def send_at(self, fd: int, when_ns: int, payload: bytes, name: bytes,
                control: bytes = b"") -> int:
        """Queue sendmsg(fd, payload, control, name) for CLOCK_MONOTONIC `when_ns`; a time
        already past sends at once. Raises OSError when it cannot be queued."""
        if len(self._sends) >= MAX_IN_FLIGHT:
            raise OSError(errno.EBUSY, "io_uring: too many timed sends in flight")
        token = self._next_token
        self._next_token += 1
        send = _Send(when_ns, payload, name, control)
        flags = IORING_TIMEOUT_ABS | IORING_TIMEOUT_ETIME_SUCCESS
        self._push(IORING_OP_TIMEOUT, IOSQE_IO_LINK, -1, 0, ctypes.addressof(send.when), 1,
                   flags, token * 4 + _TIMEOUT)
        self._push(IORING_OP_SENDMSG, 0, fd, 0, ctypes.addressof(send.msg), 1, 0,
                   token * 4 + _SEND)
        self._sends[token] = send
        try:
            self._enter(2, 0)
        except OSError:
            del self._sends[token]  # nothing was consumed (the whole call failed)
            raise
        return token

    def cancel(self, token: int) -> bool:
        """Withdraw a queued send. True when it went out anyway (its time had come)."""
        if token not in self._sends:
            return self._forget(token)
        self._push(IORING_OP_TIMEOUT_REMOVE, 0, -1, 0, token * 4 + _TIMEOUT, 0, 0,
                   token * 4 + _CONTROL)
        self._enter(1, 0)
        for _ in range(CANCEL_WAITS):  # the send's completion follows the removal at once
            self._reap()
            if token not in self._sends:
                return self._forget(token)
            self._enter(0, 1)
        raise OSError(errno.ETIMEDOUT, f"io_uring: timed send {token} neither sent nor cancelled")

    def completions(self) -> list[Completion]:
        """Sends finished since the last call (sent, failed or cancelled)."""
        self._reap()
        done, self._done = self._done, []
        return done

    def close(self) -> None:
        """Closing the ring cancels what is still queued (and waits for it in the kernel)."""
        if self._fd >= 0:
            self._ring.close()
            self._sqes.close()
            os.close(self._fd)
            self._fd = -1
            self._sends.clear()

    # ---- the rings -----------------------------------------------------------------------

    def _push(self, opcode: int, flags: int, fd: int, off: int, addr: int, length: int,
              op_flags: int, user_data: int) -> None:
        tail = _U32.unpack_from(self._ring, self._sq_tail)[0]
        index = tail & self._sq_mask
        _SQE.pack_into(self._sqes, 64 * index, opcode, flags, 0, fd, off, addr, length, op_flags,
                       user_data, 0, 0, 0, 0, 0)
        _U32.pack_into(self._ring, self._sq_array + 4 * index, index)
        _U32.pack_into(self._ring, self._sq_tail, tail + 1)

    def _enter(self, to_submit: int, wait: int) -> None:
        flags = IORING_ENTER_GETEVENTS if wait else 0
        while True:
            try:
                _syscall(SYS_IO_URING_ENTER, self._fd, to_submit, wait, flags, None, 0)
                return
            except OSError as exc:
                if exc.errno != errno.EINTR:
                    raise

    def _take_completions(self) -> list[tuple[int, int]]:
        """(user_data, result) of every completion waiting, taken off the ring."""
        head = _U32.unpack_from(self._ring, self._cq_head)[0]
        tail = _U32.unpack_from(self._ring, self._cq_tail)[0]
        out = []
        while head != tail:
            user_data, result, _flags = _CQE.unpack_from(
                self._ring, self._cqes + 16 * (head & self._cq_mask))
            out.append((user_data, result))
            head += 1
        _U32.pack_into(self._ring, self._cq_head, head)
        return out

    def _reap(self) -> None:
        for user_data, result in self._take_completions():
            token, kind = divmod(user_data, 4)
            if kind == _SEND and self._sends.pop(token, None) is not None:
                self._done.append(Completion(token, result))

    def _forget(self, token: int) -> bool:
        """The completion of a send that finished: taken out of the list, sent or not."""
        for index, done in enumerate(self._done):
            if done.token == token:
                del self._done[index]
                return done.result >= 0
        return False  # reported by completions() already: the caller knows


def _proves_linked_timeout(sender: TimedSender) -> bool:
    """An expired ETIME_SUCCESS timeout runs what is linked behind it (Linux >= 5.16)."""
    sender._push(IORING_OP_TIMEOUT, IOSQE_IO_LINK, -1, 0, ctypes.addressof(sender._control), 1,
                 IORING_TIMEOUT_ETIME_SUCCESS, _CONTROL)
    sender._push(IORING_OP_NOP, 0, -1, 0, 0, 0, 0, 4 + _CONTROL)
    sender._enter(2, 2)
    return dict(sender._take_completions()).get(4 + _CONTROL) == 0


def open_timed_sender() -> tuple[TimedSender | None, str]:
    """A ring, or None and why not (the caller logs it and sends from its own timer)."""
    if platform.machine() != "x86_64":
        return None, f"io_uring rings are driven only on x86-64 here, not {platform.machine()}"
    try:
        sender = TimedSender()
    except OSError as exc:
        return None, str(exc)
    try:
        if not _proves_linked_timeout(sender):
            sender.close()
            return None, "io_uring: an expired timeout does not run its link (Linux < 5.16)"
    except OSError as exc:
        sender.close()
        return None, str(exc)
    return sender, "io_uring"
