"""classifier.flows.worker: a capture point read in a forked process gives exactly what the
read in this process gives (frames, accounting, errors), and the child never outlives its use."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import classifier.flows.reading as reading
from classifier.errors import CaptureError, MalformedPacketError
from classifier.flows import FlowStream
from classifier.flows.reading import FileProgress, PointReader, open_points
from classifier.flows.table import Finished, Payloads
from classifier.flows.worker import ReaderProcess, ReaderProcessError, _pack, _unpack
from tests.flows.longcap import hand_on_often, long_capture
from tests.ingest import craft
from tests.ingest.test_damage import _frames

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = [ROOT / "captures" / n for n in
            ("cluster-tls13.pcap", "secure.pcapng", "overlay-vxlan.pcap", "konnectivity-cp-any.pcap")]


def _both(paths: list[str], **kw: object) -> tuple[FlowStream, list[pd.DataFrame],
                                                  FlowStream, list[pd.DataFrame]]:
    here = FlowStream(paths, **kw)  # type: ignore[arg-type]
    frames_here = list(here)
    there = FlowStream(paths, reader_process=True, **kw)  # type: ignore[arg-type]
    frames_there = list(there)
    return here, frames_here, there, frames_there


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_same_frames_stats_and_inputs(capture: Path) -> None:
    here, a, there, b = _both([str(capture)])
    assert len(a) == len(b) >= 1
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, y)
    pd.testing.assert_frame_equal(here.stats, there.stats)
    pd.testing.assert_frame_equal(here.inputs, there.inputs)


def test_many_batches_cross_the_pipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hand_on_often(monkeypatch)  # the forked child inherits the patched settings
    _, a, _, b = _both([str(long_capture(tmp_path))], payload_bytes=64)
    assert len(a) == len(b) > 10
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, y)


def test_batches_round_trip_byte_for_byte() -> None:
    src = PointReader([str(CAPTURES[0])], 16384, False, FileProgress(None, 0))
    for batch in src.finished():
        body = bytearray(b"".join(bytes(p) for p in _pack(batch)))
        back = _unpack(body)
        assert back.n == batch.n
        assert back.f.keys() == batch.f.keys()
        for k, v in batch.f.items():
            assert back.f[k].dtype == v.dtype and np.array_equal(back.f[k], v)
        assert np.array_equal(back.keys, batch.keys)
        for x, y in zip((back.payloads.data, back.payloads.start, back.payloads.length,
                         back.payloads.missed, *back.sightings, *back.bursts),
                        (batch.payloads.data, batch.payloads.start, batch.payloads.length,
                         batch.payloads.missed, *batch.sightings, *batch.bursts), strict=True):
            assert x.dtype == y.dtype and np.array_equal(x, y)
            assert x.flags.aligned and x.flags.writeable


def test_empty_batch_round_trips() -> None:
    e = np.empty(0, np.int64)
    batch = Finished(0, {"gid": e}, np.empty((0, 8), np.uint64),
                     Payloads(np.empty(0, np.uint8), e, e, e), (e, e), (e, e))
    back = _unpack(bytearray(b"".join(bytes(p) for p in _pack(batch))))
    assert back.n == 0 and back.keys.shape == (0, 8) and back.f["gid"].shape == (0,)


def test_missing_file_is_the_same_capture_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pcap")
    with pytest.raises(CaptureError) as here:
        list(FlowStream([missing]))
    with pytest.raises(CaptureError) as there:
        list(FlowStream([missing], reader_process=True))
    assert type(there.value) is CaptureError and str(there.value) == str(here.value)


def test_not_a_capture_is_a_capture_error(tmp_path: Path) -> None:
    p = tmp_path / "x.pcap"
    p.write_bytes(b"this is not a capture file at all")
    with pytest.raises(CaptureError, match=r"x\.pcap"):
        list(FlowStream([str(p)], reader_process=True))


def test_strict_malformed_comes_back_with_its_fields(tmp_path: Path) -> None:
    p = tmp_path / "t.pcap"
    p.write_bytes(craft.pcap_bytes(_frames(5))[:-10])
    with pytest.raises(MalformedPacketError) as exc:
        list(FlowStream([str(p)], strict=True, reader_process=True))
    assert (exc.value.capture, exc.value.frame, exc.value.reason) == (str(p), 5,
                                                                      "truncated_record")


def test_a_bug_in_the_child_is_reported_with_its_traceback(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise ZeroDivisionError("boom in decode")

    monkeypatch.setattr(reading, "decode", broken)
    with pytest.raises(ReaderProcessError, match="boom in decode") as exc:
        list(FlowStream([str(CAPTURES[0])], reader_process=True))
    assert "ZeroDivisionError" in str(exc.value) and "Traceback" in str(exc.value)


def test_a_killed_child_is_reported() -> None:
    (proc,) = open_points([str(CAPTURES[0])], 16384, False, None, process=True)
    assert isinstance(proc, ReaderProcess)
    os.kill(proc._pid, signal.SIGKILL)
    with pytest.raises(ReaderProcessError, match="killed by SIGKILL"):
        list(proc.finished())


def _gone(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_stopping_early_ends_and_reaps_the_child(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    hand_on_often(monkeypatch)
    (proc,) = open_points([str(long_capture(tmp_path))], 64, False, None, process=True)
    assert isinstance(proc, ReaderProcess)
    batches = proc.finished()
    next(batches)
    batches.close()
    assert _gone(proc._pid)


def test_an_unused_reader_is_reaped_when_dropped() -> None:
    (proc,) = open_points([str(CAPTURES[0])], 16384, False, None, process=True)
    assert isinstance(proc, ReaderProcess)
    pid = proc._pid
    del proc
    assert _gone(pid)


def test_progress_is_passed_on_and_ends_at_the_total() -> None:
    seen: list[tuple[int, int]] = []
    stream = FlowStream([str(CAPTURES[0])], reader_process=True,
                        progress=lambda done, total: seen.append((done, total)))
    list(stream)
    size = CAPTURES[0].stat().st_size
    assert seen and seen[-1] == (size, size)
    assert all(0 <= d <= t == size for d, t in seen)


def test_several_points_or_stdin_need_no_fork(tmp_path: Path) -> None:
    a = tmp_path / "a.pcap"
    b = tmp_path / "b.pcap"
    a.write_bytes(craft.pcap_bytes(_frames(3)))
    b.write_bytes(craft.pcap_bytes(_frames(3)))  # same times: two capture points
    points = open_points([str(a), str(b)], 16384, False, None, process=True)
    assert len(points) == 2 and not any(isinstance(p, ReaderProcess) for p in points)


def test_stdin_read_in_the_child() -> None:
    code = ("import sys; from classifier.flows import FlowStream; s = FlowStream(['-'], "
            "reader_process=True); n = sum(len(f) for f in s); "
            "print(n, int(s.stats['packets'].sum()), s.inputs['sha256'][0])")
    data = CAPTURES[0].read_bytes()
    out = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True,
                         check=True, cwd=ROOT).stdout.decode().split()
    here = FlowStream([str(CAPTURES[0])])
    flows = sum(len(f) for f in here)
    import hashlib

    assert out == [str(flows), str(int(here.stats["packets"].sum())),
                   hashlib.sha256(data).hexdigest()]


def test_no_process_to_spare_reads_here(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    (point,) = open_points([str(CAPTURES[0])], 16384, False, None, process=True)
    assert isinstance(point, PointReader)
    assert sum(len(f) for f in FlowStream([str(CAPTURES[0])], reader_process=True)) == \
        sum(len(f) for f in FlowStream([str(CAPTURES[0])]))
