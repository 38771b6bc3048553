"""A capture point read in a forked process: its finished-flow batches and packet accounting
come back over a pipe, so this process imports and runs the later stages meanwhile.

The child runs ``PointReader.finished`` and sends each ``Finished`` batch as raw array buffers
(a JSON header of names, dtypes and shapes, then the bytes), the accounting as JSON at the
end, or the error that stopped it (a ``KubewireError`` comes back as the same type). Nothing
received is unpickled or evaluated. Progress is a byte counter in shared memory that the
parent reads while it waits, so a slow parent never blocks the child's read.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import select
import signal
import struct
import traceback
import weakref
from collections.abc import Iterator
from typing import Any, Final, NoReturn

import numpy as np

from classifier import errors
from classifier.flows.reading import FileProgress, PointReader
from classifier.flows.table import Finished, Payloads
from classifier.heap import trim_heap

HEADER: Final = struct.Struct("<cQ")
"""A message: kind (F batch, A accounting, E error) and body length, then the body."""
ALIGN: Final = 64
"""Each array buffer starts at a multiple of this from the start of a batch body, so the
arrays (views of the body) are aligned to their item size."""
PIPE_BYTES: Final = 1 << 20
"""Pipe buffer asked for (Linux F_SETPIPE_SZ): a batch crosses in fewer, larger writes."""
COUNTER: Final = struct.Struct("<q")
"""The progress counter in shared memory: bytes the child has read."""
POLL_S: Final = 0.1
"""How often a waiting parent passes the child's progress on."""


class ReaderProcessError(RuntimeError):
    """The reader process failed on something that is not a capture problem (a bug), or died."""


class ReaderProcess:
    """A ``PointReader`` run in a forked child, started at construction; ``finished()``,
    ``stats`` and ``inputs`` as the reader's own (accounting complete once ``finished()`` is
    exhausted). The child is killed and reaped when the iteration ends early or this object
    goes away."""

    def __init__(self, reader: PointReader) -> None:
        self.paths = reader.paths
        self.stats: list[dict[str, object]] = []
        self.inputs: list[dict[str, object]] = []
        self._cb, self._total = reader.progress.cb, reader.progress.total
        self._done = mmap.mmap(-1, COUNTER.size)
        r, w = os.pipe()
        with contextlib.suppress(AttributeError, OSError):
            import fcntl

            fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            raise
        if pid == 0:
            os.close(r)
            _child(reader, w, self._done)
        os.close(w)
        self._fd = r
        self._pid = pid
        self._reap = weakref.finalize(self, _stop, pid, r)

    def finished(self) -> Iterator[Finished]:
        """The child's batches as they come → ``Finished``; then the accounting is set."""
        try:
            while True:
                kind, body = self._receive()
                if kind == b"F":
                    yield _unpack(body)
                elif kind == b"A":
                    facts = json.loads(body)
                    self.stats, self.inputs = facts["stats"], facts["inputs"]
                    self._report(final=True)
                    return
                else:
                    raise _error(json.loads(body))
        finally:
            self._reap()

    def _receive(self) -> tuple[bytes, bytearray]:
        """Next message from the child (kind, body), passing progress on while waiting."""
        if self._cb is not None:
            while not select.select([self._fd], [], [], POLL_S)[0]:
                self._report()
        head = _read_exact(self._fd, HEADER.size)
        if len(head) < HEADER.size:
            raise ReaderProcessError(f"capture reader process ended early ({self._status()})")
        kind, size = HEADER.unpack(head)
        body = _read_exact(self._fd, size)
        if len(body) < size:
            raise ReaderProcessError(f"capture reader process ended early ({self._status()})")
        return kind, body

    def _report(self, final: bool = False) -> None:
        if self._cb is not None:
            done = self._total if final and self._total else COUNTER.unpack_from(self._done)[0]
            self._cb(done, self._total)

    def _status(self) -> str:
        """How the child ended, once it has (it is reaped here)."""
        try:
            _, status = os.waitpid(self._pid, 0)
        except ChildProcessError:
            return "already reaped"
        if os.WIFSIGNALED(status):
            return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
        return f"exit status {os.waitstatus_to_exitcode(status)}"


def _stop(pid: int, fd: int) -> None:
    """Close our end of the pipe, end the child if it still runs, and reap it."""
    with contextlib.suppress(OSError):
        os.close(fd)
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _child(reader: PointReader, fd: int, done: mmap.mmap) -> NoReturn:
    """In the forked child: run the read, send its batches, accounting or error; exit."""
    code = 0
    try:
        reader.progress = FileProgress(lambda n, _total: COUNTER.pack_into(done, 0, n),
                                       reader.progress.total)
        for batch in reader.finished():
            _send(fd, b"F", *_pack(batch))
            del batch
            trim_heap()  # the parent holds the batch now; this copy's pages can go
        facts = {"stats": reader.stats, "inputs": reader.inputs}
        _send(fd, b"A", json.dumps(facts).encode())
    except (BrokenPipeError, KeyboardInterrupt):
        code = 1  # the parent stopped reading, or the user stopped both
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        code = 1
        with contextlib.suppress(OSError):
            _send(fd, b"E", json.dumps(_describe(exc)).encode())
    finally:
        os._exit(code)


def _describe(exc: BaseException) -> dict[str, Any]:
    """An exception → what the parent needs to raise it again (KubewireErrors by type)."""
    kind = type(exc).__name__
    if isinstance(exc, errors.MalformedPacketError):
        return {"type": kind, "fields": [exc.capture, exc.frame, exc.reason]}
    if isinstance(exc, errors.KubewireError) and getattr(errors, kind, None) is type(exc):
        return {"type": kind, "message": str(exc)}
    return {"type": "bug", "message": "".join(traceback.format_exception(exc)).rstrip()}


def _error(desc: dict[str, Any]) -> Exception:
    """The child's error description → the exception to raise here."""
    cls = getattr(errors, str(desc.get("type")), None)
    if cls is errors.MalformedPacketError:
        capture, frame, reason = desc["fields"]
        return errors.MalformedPacketError(str(capture), int(frame), str(reason))
    if isinstance(cls, type) and issubclass(cls, errors.KubewireError):
        return cls(str(desc.get("message", "")))
    return ReaderProcessError(f"capture reader process failed:\n{desc.get('message', '')}")


def _arrays(batch: Finished) -> dict[str, np.ndarray]:
    """A batch → its arrays by name."""
    pl = batch.payloads
    out = {f"f.{k}": v for k, v in batch.f.items()}
    out.update({"keys": batch.keys, "payloads.data": pl.data, "payloads.start": pl.start,
                "payloads.length": pl.length, "payloads.missed": pl.missed,
                "sightings.0": batch.sightings[0], "sightings.1": batch.sightings[1],
                "bursts.0": batch.bursts[0], "bursts.1": batch.bursts[1]})
    return out


def _pack(batch: Finished) -> list[bytes | memoryview]:
    """A batch → message body parts: header length, JSON header, then aligned array bytes."""
    layout: list[list[Any]] = []
    buffers: list[memoryview] = []
    pos = 0
    for name, arr in _arrays(batch).items():
        if arr.dtype.hasobject:
            raise TypeError(f"{name}: object arrays do not cross the process boundary")
        arr = np.ascontiguousarray(arr)
        pos += -pos % ALIGN
        layout.append([name, arr.dtype.str, list(arr.shape), pos])
        buffers.append(arr.reshape(-1).view(np.uint8).data)
        pos += arr.nbytes
    head = json.dumps({"n": batch.n, "arrays": layout}).encode()
    lead = len(head) + 4
    lead += -lead % ALIGN
    parts: list[bytes | memoryview] = [struct.pack("<I", len(head)), head,
                                       bytes(lead - 4 - len(head))]
    at = 0
    for (_, _, _, off), buf in zip(layout, buffers, strict=True):
        if off > at:
            parts.append(bytes(off - at))
        parts.append(buf)
        at = off + len(buf)
    return parts


def _unpack(body: bytearray) -> Finished:
    """A batch message body → the ``Finished`` batch (arrays are views of ``body``)."""
    (hlen,) = struct.unpack_from("<I", body)
    head = json.loads(bytes(body[4:4 + hlen]))
    lead = hlen + 4
    lead += -lead % ALIGN
    arrays: dict[str, np.ndarray] = {}
    for name, dtype, shape, off in head["arrays"]:
        dt = np.dtype(dtype)
        count = int(np.prod(shape)) if shape else 1
        arrays[name] = np.frombuffer(body, dt, count, lead + int(off)).reshape(shape)
    f = {k[2:]: v for k, v in arrays.items() if k.startswith("f.")}
    payloads = Payloads(arrays["payloads.data"], arrays["payloads.start"],
                        arrays["payloads.length"], arrays["payloads.missed"])
    return Finished(int(head["n"]), f, arrays["keys"], payloads,
                    (arrays["sightings.0"], arrays["sightings.1"]),
                    (arrays["bursts.0"], arrays["bursts.1"]))


def _send(fd: int, kind: bytes, *parts: bytes | memoryview) -> None:
    """One message (kind, then the parts as its body) → written whole to ``fd``."""
    views = [memoryview(p).cast("B") for p in parts]
    _write_all(fd, memoryview(HEADER.pack(kind, sum(len(v) for v in views))))
    for v in views:
        _write_all(fd, v)


def _write_all(fd: int, view: memoryview) -> None:
    while len(view):
        view = view[os.write(fd, view):]


def _read_exact(fd: int, size: int) -> bytearray:
    """Up to ``size`` bytes from ``fd`` (fewer only at end of file)."""
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = os.readv(fd, [view[got:]])
        if n == 0:
            del view
            return buf[:got]
        got += n
    return buf
