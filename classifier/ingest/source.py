"""Opening a capture: path or '-' (stdin), gzip detection, byte counting and SHA-256.

Plain files are read straight into the caller's buffer. Their SHA-256: for a regular file of
at least ``HASHER_MIN_BYTES``, a helper process reads and hashes the bytes the reader has
consumed (``classifier.ingest.hasher``: it never holds the reader up); otherwise a helper
thread hashes each chunk as it is read (hashlib releases the GIL), and the reader reuses a
buffer only once its bytes are hashed. Compressed input is hashed as it is decompressed.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import zlib
from collections import deque
from typing import IO, TYPE_CHECKING, Final

from classifier.errors import CaptureError
from classifier.ingest.hasher import FileHasher

if TYPE_CHECKING:  # gzip and the thread pool load when a file needs them (not on start-up)
    import gzip
    from concurrent.futures import Future, ThreadPoolExecutor

GZIP_MAGIC: Final = b"\x1f\x8b"
HASHER_MIN_BYTES: Final = 64 << 20
"""Regular files this large are hashed by a helper process (below, a thread costs < 50 ms)."""


class _Hashing(io.RawIOBase):
    """Raw stream under gzip: replays a sniffed prefix, hashes and counts every raw byte."""

    def __init__(self, raw: IO[bytes], prefix: bytes, hashed: bool = True) -> None:
        self._raw = raw
        self._prefix = prefix
        self._hashes = hashed
        self.sha = hashlib.sha256(prefix)
        self.size = len(prefix)

    def readable(self) -> bool:
        return True

    def readinto(self, b: memoryview) -> int:  # type: ignore[override]
        mv = memoryview(b).cast("B")
        if self._prefix:
            k = min(len(self._prefix), len(mv))
            mv[:k] = self._prefix[:k]
            self._prefix = self._prefix[k:]
            return k
        n = self._raw.readinto(mv)  # type: ignore[attr-defined]
        if n:
            if self._hashes:
                self.sha.update(mv[:n])
            self.size += n
        return int(n or 0)


class Source:
    """One capture being read: ``readinto`` gives (decompressed) bytes; size/SHA-256 of raw bytes.

    With ``hashed=False`` nothing is hashed and ``sha256()`` is "" (a pass that only needs
    the records, such as the time-range scan of several files)."""

    def __init__(self, path: str, *, hashed: bool = True) -> None:
        self.path = path
        self._hashes = hashed
        try:
            raw: IO[bytes] = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            raise CaptureError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise CaptureError(f"{path}: is a directory, not a capture file") from None
        except OSError as exc:
            raise CaptureError(f"{path}: cannot read: {exc.strerror or exc}") from None
        self._raw = raw
        self.total = 0 if path == "-" else _file_size(path)
        try:
            head = _read_exact(raw, 2)
        except OSError as exc:
            raise CaptureError(f"{path}: cannot read: {exc.strerror or exc}") from None
        self.gzip = head == GZIP_MAGIC
        self._prefix = head
        self._sha = hashlib.sha256()
        self._size = 0
        self._hashing: _Hashing | None = None
        self._gz: gzip.GzipFile | None = None
        if self.gzip:
            import gzip

            self._hashing = _Hashing(raw, head, hashed)
            self._gz = gzip.GzipFile(fileobj=self._hashing, mode="rb")
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[tuple[int, Future[None]]] = deque()
        self._submitted = 0
        self._hasher: FileHasher | None = None
        self._digest: str | None = None
        self._close_pending = False
        if hashed and not self.gzip and self.total >= HASHER_MIN_BYTES and os.path.isfile(path) \
                and hasattr(os, "preadv"):
            hasher = FileHasher(raw.fileno())
            self._hasher = hasher if hasher.ok else None
        self.error: str | None = None
        """Set when decompression failed midway (the rest of the file is unreadable)."""

    def readinto(self, mv: memoryview) -> int:
        """Fill mv with up to len(mv) bytes (fewer only at end of input); → count."""
        got = 0
        while got < len(mv):
            n = self._read_some(mv[got:])
            if n == 0:
                break
            got += n
        return got

    def _read_some(self, mv: memoryview) -> int:
        if self.error is not None:
            return 0
        if self._gz is not None:
            try:
                return int(self._gz.readinto(mv))
            except (EOFError, OSError, zlib.error) as exc:
                self.error = f"gzip_error: {exc}"
                return 0
        if self._prefix:
            k = min(len(self._prefix), len(mv))
            mv[:k] = self._prefix[:k]
            self._hash(bytes(self._prefix[:k]))
            self._prefix = self._prefix[k:]
            return k
        try:
            n = self._raw.readinto(mv)  # type: ignore[attr-defined]
        except OSError as exc:
            raise CaptureError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        if n:
            self._hash(mv[:n])
        return int(n or 0)

    def _hash(self, data: memoryview | bytes) -> None:
        self._size += len(data)
        if not self._hashes:
            return
        if self._hasher is not None:
            self._hasher.advance(self._size)
            return
        if len(data) < (1 << 16) and not self._pending:
            self._sha.update(data)
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kubewire-sha")
        self._submitted += 1
        self._pending.append((self._submitted, self._pool.submit(self._sha.update, data)))

    def mark(self) -> int:
        """A marker for 'everything handed out so far' (see :meth:`sync`)."""
        return self._submitted

    def sync(self, mark: int | None = None) -> None:
        """Wait until the bytes handed out before ``mark`` (default: all) are hashed; call it
        before overwriting a buffer they were read into."""
        while self._pending and (mark is None or self._pending[0][0] <= mark):
            self._pending.popleft()[1].result()

    @property
    def bytes_read(self) -> int:
        """Raw (compressed) bytes read so far."""
        return self._hashing.size if self._hashing is not None else self._size

    def sha256(self) -> str:
        """SHA-256 (hex) of the raw bytes read so far (with the helper process: of the bytes
        read when first asked; call it after the read); "" when not hashing."""
        if not self._hashes:
            return ""
        if self._hasher is not None:
            if self._digest is None:
                try:
                    self._digest = self._hasher.result(self._size)
                except EOFError as exc:
                    raise CaptureError(f"{self.path}: changed while it was read: {exc}; "
                                       "its SHA-256 cannot cover the bytes analyzed") from None
                if self._close_pending:
                    self.close()
            return self._digest
        self.sync()
        return (self._hashing.sha if self._hashing is not None else self._sha).hexdigest()

    def drain(self) -> None:
        """Read the rest of the raw file so size and SHA-256 cover every byte of it."""
        self.sync()
        rest = self._raw.read() if self._hashing is None else b""
        if rest:
            self._hash(rest)
        if self._hashing is not None:
            while self._hashing.read(1 << 20):
                pass
        self.sync()

    def close(self) -> None:
        """Finish hashing and close the file (never stdin). With the helper process the file
        stays open until ``sha256()`` has its digest (the fallback reads the file)."""
        self.sync()
        if self._hasher is not None and self._digest is None:
            self._close_pending = True
            return
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._raw is not sys.stdin.buffer:
            self._raw.close()


def _read_exact(raw: IO[bytes], n: int) -> bytes:
    out = b""
    while len(out) < n:
        b = raw.read(n - len(out))
        if not b:
            break
        out += b
    return out


def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
