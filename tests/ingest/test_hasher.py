"""classifier.ingest.hasher: the helper process hashes exactly the bytes the reader consumed,
and when it cannot start or dies the digest is still right."""

from __future__ import annotations

import gzip
import hashlib
import os
import random
import shutil
from pathlib import Path

import pytest

from classifier.errors import CaptureError
from classifier.ingest import hasher, source
from classifier.ingest.hasher import FileHasher
from classifier.ingest.reader import CaptureReader

ROOT = Path(__file__).resolve().parents[2]
CAPTURE = ROOT / "captures" / "cluster-tls13.pcap"


def _blob(tmp_path: Path, size: int = 5_000_003) -> tuple[Path, bytes]:
    data = random.Random(7).randbytes(size)
    p = tmp_path / "blob.bin"
    p.write_bytes(data)
    return p, data


def test_helper_hashes_what_was_consumed_in_uneven_steps(tmp_path: Path) -> None:
    p, data = _blob(tmp_path)
    with p.open("rb") as fh:
        h = FileHasher(fh.fileno())
        assert h.ok
        for pos in (1, 2, 4097, 3 << 20, 4_999_999):
            h.advance(pos)
        assert h.result(len(data)) == hashlib.sha256(data).hexdigest()


def test_a_prefix_is_hashed_when_the_reader_stopped_early(tmp_path: Path) -> None:
    p, data = _blob(tmp_path)
    with p.open("rb") as fh:
        h = FileHasher(fh.fileno())
        h.advance(1000)
        assert h.result(123_457) == hashlib.sha256(data[:123_457]).hexdigest()


def test_helper_runs_at_the_lowest_priority(tmp_path: Path) -> None:
    p, _ = _blob(tmp_path, 10)
    with p.open("rb") as fh:
        h = FileHasher(fh.fileno())
        assert h._proc is not None
        assert os.getpriority(os.PRIO_PROCESS, h._proc.pid) == hasher.NICE
        h.result(10)


def test_helper_that_cannot_start_is_reported(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    p, _ = _blob(tmp_path, 10)
    monkeypatch.setattr(hasher.sys, "executable", str(tmp_path / "no-python"))
    with p.open("rb") as fh:
        assert not FileHasher(fh.fileno()).ok


def test_a_helper_that_dies_midway_falls_back_to_hashing_here(tmp_path: Path) -> None:
    p, data = _blob(tmp_path)
    with p.open("rb") as fh:
        h = FileHasher(fh.fileno())
        h.advance(1 << 20)
        assert h._proc is not None
        h._proc.kill()
        h._proc.wait()
        h.advance(2 << 20)  # a broken pipe here is not an error either
        assert h.result(len(data)) == hashlib.sha256(data).hexdigest()


def test_a_file_that_shrank_after_the_read_has_no_digest(tmp_path: Path) -> None:
    p, _ = _blob(tmp_path, 1000)
    with p.open("rb") as fh:
        h = FileHasher(fh.fileno())
        # the helper exits 2 (the file is shorter than the position); so does the fallback
        with pytest.raises(EOFError, match="1000 of the 5000 bytes"):
            h.result(5000)


def test_reader_says_when_the_file_shrank_before_its_digest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "HASHER_MIN_BYTES", 0)
    p = tmp_path / "c.pcap"
    shutil.copy(CAPTURE, p)
    r = _read_all(p)
    os.truncate(p, 100)
    with pytest.raises(CaptureError, match="changed while it was read"):
        _ = r.sha256


def _read_all(path: Path) -> CaptureReader:
    r = CaptureReader(str(path), chunk=65536)
    for _ in r.batches():
        pass
    return r


@pytest.mark.parametrize("use_helper", [True, False])
def test_capture_reader_digest_and_size(monkeypatch: pytest.MonkeyPatch, use_helper: bool) -> None:
    monkeypatch.setattr(source, "HASHER_MIN_BYTES", 0 if use_helper else 1 << 62)
    r = _read_all(CAPTURE)
    data = CAPTURE.read_bytes()
    assert r.size == len(data)
    assert r.sha256 == hashlib.sha256(data).hexdigest()


def test_reader_falls_back_to_the_thread_when_no_helper(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "HASHER_MIN_BYTES", 0)
    monkeypatch.setattr(hasher.sys, "executable", str(tmp_path / "no-python"))
    assert _read_all(CAPTURE).sha256 == hashlib.sha256(CAPTURE.read_bytes()).hexdigest()


def test_gzip_and_trailing_bytes_keep_their_digest(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "HASHER_MIN_BYTES", 0)
    gz = tmp_path / "c.pcap.gz"
    gz.write_bytes(gzip.compress(CAPTURE.read_bytes()))
    assert _read_all(gz).sha256 == hashlib.sha256(gz.read_bytes()).hexdigest()
    tail = tmp_path / "t.pcap"
    shutil.copy(CAPTURE, tail)
    with tail.open("ab") as fh:
        fh.write(b"\x01" * 7)  # a cut-short record: drained, still hashed
    r = _read_all(tail)
    assert r.sha256 == hashlib.sha256(tail.read_bytes()).hexdigest()
    assert r.size == tail.stat().st_size


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_pass_that_needs_only_records_hashes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gzipped: bool) -> None:
    """CaptureReader(hashed=False) (the time-range scan of several files): the same records
    and size, no helper process, no digest."""
    monkeypatch.setattr(source, "HASHER_MIN_BYTES", 0)
    path = CAPTURE
    if gzipped:
        path = tmp_path / "c.pcap.gz"
        path.write_bytes(gzip.compress(CAPTURE.read_bytes()))
    started: list[int] = []
    monkeypatch.setattr(source.FileHasher, "__init__",
                        lambda self, fd: started.append(fd) or setattr(self, "ok", False))
    plain = CaptureReader(str(path), chunk=65536, hashed=False)
    frames = [int(b.frame[-1]) for b in plain.batches() if len(b)]
    assert plain.sha256 == "" and started == []
    assert plain.size == path.stat().st_size
    hashed = CaptureReader(str(path), chunk=65536)
    assert frames == [int(b.frame[-1]) for b in hashed.batches() if len(b)]
    assert hashed.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert started == ([] if gzipped else [started[0]])


def test_the_time_range_scan_of_several_files_hashes_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from classifier.flows import points

    monkeypatch.setattr(source, "HASHER_MIN_BYTES", 0)
    seen: list[bool] = []
    real = source.Source.__init__

    def spy(self: source.Source, path: str, *, hashed: bool = True) -> None:
        seen.append(hashed)
        real(self, path, hashed=hashed)

    monkeypatch.setattr(source.Source, "__init__", spy)
    span = points.scan_span(0, str(CAPTURE))
    assert seen == [False] and span.first is not None and span.last is not None
