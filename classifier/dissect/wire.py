"""A bounds-checked big-endian reader for protocol bytes."""

from __future__ import annotations

from classifier.dissect.facts import Malformed


class Reader:
    """Reads big-endian integers and length-prefixed vectors; raises Malformed past the end."""

    __slots__ = ("buf", "end", "pos", "reason")

    def __init__(self, buf: bytes, pos: int = 0, end: int | None = None,
                 reason: str = "truncated") -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end
        self.reason = reason

    def remaining(self) -> int:
        """Bytes left before the end."""
        return self.end - self.pos

    def uint(self, n: int) -> int:
        """Next n bytes as an unsigned big-endian integer."""
        if self.pos + n > self.end:
            raise Malformed(self.reason)
        v = int.from_bytes(self.buf[self.pos:self.pos + n], "big")
        self.pos += n
        return v

    def take(self, n: int) -> bytes:
        """Next n bytes."""
        if n < 0 or self.pos + n > self.end:
            raise Malformed(self.reason)
        v = self.buf[self.pos:self.pos + n]
        self.pos += n
        return v

    def vector(self, len_bytes: int) -> bytes:
        """A vector with a len_bytes-long length prefix."""
        return self.take(self.uint(len_bytes))

    def sub(self, len_bytes: int) -> Reader:
        """A reader over the next length-prefixed vector (advances past it)."""
        n = self.uint(len_bytes)
        if self.pos + n > self.end:
            raise Malformed(self.reason)
        r = Reader(self.buf, self.pos, self.pos + n, self.reason)
        self.pos += n
        return r
