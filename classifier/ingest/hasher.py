"""SHA-256 of a capture file computed by a helper process as the reader moves through it.

The reader tells the helper how far it has read (8-byte positions on the helper's stdin); the
helper hashes the file's bytes up to there through read-only mappings of a descriptor it
inherited (no second copy out of the page cache), then,
once told the read is over, prints the hex digest. The hash covers exactly the bytes the
reader consumed (the file's first N bytes), with no buffer shared between the two: the
reader never waits for hashing, and the helper runs at the lowest CPU priority, on whatever
core time is left (on 2 cores, mostly while the table stages run after the read).

Run as a script (``python -I -S hasher.py FD``) it is the helper: standard library only.
If the helper cannot start or dies, the digest is computed here from the file instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import signal
import struct
import sys
import weakref
from typing import IO, Final

STEP: Final = 1 << 21
"""Bytes read per ``pread`` when hashing in-process."""
WINDOW: Final = 4 << 20
"""Bytes the helper maps at a time (mapped file pages count in its resident size)."""
POSITION: Final = struct.Struct("<q")
"""A position message: bytes read so far; -1 ends the read."""
NICE: Final = 19
"""The helper's CPU priority (the lowest)."""


class FileHasher:
    """Open file descriptor → a helper process hashing its first bytes as ``advance`` says.

    ``result(size)`` → the hex SHA-256 of the file's first ``size`` bytes. ``ok`` is False when
    the helper could not be started (the caller then hashes itself).
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.ok = True
        self._sent = 0
        try:
            self._proc: _Helper | None = _Helper.spawn(fd)
        except OSError:
            self._proc, self.ok = None, False
            return
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self._proc.pid, NICE)
        self._finalizer = weakref.finalize(self, _end, self._proc)

    def advance(self, position: int) -> None:
        """The reader has consumed the file's first ``position`` bytes."""
        if self._proc is None or position <= self._sent:
            return
        self._sent = position
        try:
            _send(self._proc.stdin, position)
        except (OSError, ValueError):
            self._drop()

    def result(self, size: int) -> str:
        """→ hex SHA-256 of the file's first ``size`` bytes (the helper's, or computed here).

        Raises EOFError when the file no longer has ``size`` bytes (it shrank after the read).
        """
        proc = self._proc
        if proc is not None:
            try:
                _send(proc.stdin, size)
                _send(proc.stdin, -1)
                assert proc.stdout is not None
                line = proc.stdout.readline().decode("ascii", "replace").strip()
                if proc.wait() == 0 and len(line) == 64:
                    self._proc = None
                    return line
            except (OSError, ValueError):
                pass
            self._drop()
        return _digest_prefix(self.fd, size)

    def _drop(self) -> None:
        """Stop using the helper (it failed): end it; ``result`` hashes here."""
        if self._proc is not None:
            _end(self._proc)
            self._proc = None


class _Helper:
    """The helper process: started with ``posix_spawn`` (the ``subprocess`` module's import,
    ~15 ms, would sit on the start-up path), its stdin and stdout pipes, ended and reaped."""

    def __init__(self, pid: int, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        self.pid = pid
        self.stdin: IO[bytes] | None = stdin
        self.stdout: IO[bytes] | None = stdout
        self.returncode: int | None = None

    @classmethod
    def spawn(cls, fd: int) -> _Helper:
        """Run this file on descriptor ``fd`` (its stderr to /dev/null) → the helper; raises
        OSError when it cannot start."""
        to_child, to_us = os.pipe(), os.pipe()
        inheritable = os.get_inheritable(fd)
        try:
            os.set_inheritable(fd, True)
            pid = os.posix_spawn(
                sys.executable, [sys.executable, "-I", "-S", __file__, str(fd)], os.environ,
                file_actions=[(os.POSIX_SPAWN_DUP2, to_child[0], 0),
                              (os.POSIX_SPAWN_DUP2, to_us[1], 1),
                              (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
        except BaseException:
            for end in (*to_child, *to_us):
                os.close(end)
            raise
        finally:
            with contextlib.suppress(OSError):
                os.set_inheritable(fd, inheritable)
        os.close(to_child[0])
        os.close(to_us[1])
        return cls(pid, os.fdopen(to_child[1], "wb"), os.fdopen(to_us[0], "rb"))

    def poll(self) -> int | None:
        """The exit status once the helper has ended (reaped here), else None."""
        if self.returncode is None:
            with contextlib.suppress(ChildProcessError):
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        """Wait for the helper to end → its exit status (negative: the signal that ended it)."""
        if self.returncode is None:
            try:
                _, status = os.waitpid(self.pid, 0)
                self.returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                self.returncode = -1
        return self.returncode

    def kill(self) -> None:
        """End the helper (SIGKILL) if it still runs."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


def _send(pipe: IO[bytes] | None, position: int) -> None:
    assert pipe is not None
    pipe.write(POSITION.pack(position))
    pipe.flush()


def _end(proc: _Helper) -> None:
    """A helper that is no longer needed → ended and reaped."""
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            proc.kill()
    for pipe in (proc.stdin, proc.stdout):
        with contextlib.suppress(OSError):
            if pipe is not None:
                pipe.close()
    proc.wait()


def _digest_prefix(fd: int, size: int) -> str:
    """File descriptor + size → hex SHA-256 of its first ``size`` bytes, read with pread."""
    sha = hashlib.sha256()
    got = _hash_range(fd, sha, 0, size)
    if got < size:
        raise EOFError(f"the file now has {got} of the {size} bytes read")
    return sha.hexdigest()


def _hash_range(fd: int, sha: hashlib._Hash, start: int, stop: int) -> int:
    """Bytes [start, stop) of ``fd`` → into ``sha``, read with pread; → the position reached
    (< stop only when the file is shorter). The buffer is page-aligned: on some CPUs a copy
    into a destination a few bytes off the source's page offset runs ~4× slower."""
    buf = mmap.mmap(-1, STEP)
    with memoryview(buf) as view:
        pos = start
        while pos < stop:
            n = os.preadv(fd, [view[:min(STEP, stop - pos)]], pos)
            if n <= 0:
                break
            sha.update(view[:n])
            pos += n
    buf.close()
    return pos


def _hash_mapped(fd: int, sha: hashlib._Hash, start: int, stop: int) -> None:
    """Bytes [start, stop) of ``fd`` → into ``sha`` through read-only mappings (no copy out of
    the page cache). Only in the helper: a file cut shorter while mapped raises SIGBUS, which
    ends the helper, and the parent then hashes in-process."""
    pos = start
    while pos < stop:
        base = pos - pos % mmap.ALLOCATIONGRANULARITY
        length = min(stop, base + WINDOW) - base
        with mmap.mmap(fd, length, access=mmap.ACCESS_READ, offset=base) as mm, \
                memoryview(mm) as view:
            sha.update(view[pos - base:])
        pos = base + length


def _main(argv: list[str]) -> int:
    """The helper: positions on stdin → the digest of the file up to the last one on stdout.

    Positions that queued up while the helper waited for CPU are taken together (one larger
    mapping instead of many small ones)."""
    fd = int(argv[1])
    sha = hashlib.sha256()
    pos = 0
    pending = b""
    done = False
    while not done:
        data = os.read(0, 1 << 16)
        if not data:
            return 1  # the reader went away
        pending += data
        whole = len(pending) - len(pending) % POSITION.size
        target = pos
        for (value,) in POSITION.iter_unpack(pending[:whole]):
            if value < 0:
                done = True
                break
            target = max(target, value)
        pending = pending[whole:]
        if target > pos:
            if os.fstat(fd).st_size < target:
                return 2  # the file is shorter than what the reader read
            _hash_mapped(fd, sha, pos, target)
            pos = target
    sys.stdout.write(sha.hexdigest() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
