"""classifier.api: importing it is cheap, and CaptureStream's reader process starts before
pandas and the table stages load, giving the rows read_capture gives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from classifier import api

ROOT = Path(__file__).resolve().parents[1]
CAPTURE = str(ROOT / "captures" / "cluster-tls13.pcap")


def test_reader_process_starts_before_pandas_is_imported() -> None:
    code = ("import sys; from classifier import api; "
            f"s = api.CaptureStream({CAPTURE!r}, reader_process=True); "
            "before = 'pandas' in sys.modules; n = sum(len(b) for b in s); "
            "print(before, 'pandas' in sys.modules, n)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True,
                         cwd=ROOT, text=True).stdout.split()
    assert out == ["False", "True", str(len(api.read_capture(CAPTURE).flows))]


def test_capture_stream_in_a_process_equals_read_capture() -> None:
    whole = api.read_capture(CAPTURE)
    stream = api.CaptureStream(CAPTURE, reader_process=True)
    rows = pd.concat(list(stream), ignore_index=True)
    pd.testing.assert_frame_equal(rows.sort_values("uid", ignore_index=True),
                                  whole.flows.sort_values("uid", ignore_index=True))
    pd.testing.assert_frame_equal(stream.stats, whole.stats)
    pd.testing.assert_frame_equal(stream.inputs, whole.inputs)
    assert stream.custody() == whole.custody()


def _csv(batches: object, path: Path) -> str:
    from classifier import schema
    from classifier.tablefile import TableWriter

    with TableWriter(path, schema.FLOWS) as writer:
        for batch in batches:  # type: ignore[attr-defined]
            writer.write(batch)
    return path.read_text(encoding="utf-8")


def _all_captures() -> list[Path]:
    from tests.conftest import CAPTURES, zoo_files

    return sorted(CAPTURES.glob("*.pcap*")) + zoo_files()


def test_capture_stream_tables_write_the_csv_its_frames_write(tmp_path: Path) -> None:
    """The Arrow batches (what `kubewire flows -o FILE.csv` writes) give byte for byte the CSV
    of the frames, over every capture in captures/ and the zoo."""
    from classifier import schema

    checked = 0
    for cap in _all_captures():
        arrow = api.CaptureStream(str(cap))
        tables = list(arrow.tables())
        assert all(t.schema == schema.arrow_table({}, 0, schema.FLOWS).schema for t in tables)
        frames = api.CaptureStream(str(cap))
        assert _csv(tables, tmp_path / "a.csv") == _csv(frames, tmp_path / "f.csv"), cap
        assert arrow.stat_rows() == frames.stats.to_dict("records"), cap
        assert arrow.custody() == frames.custody(), cap
        checked += 1
    assert checked >= 10


def test_capture_stream_tables_refuse_captures_overlapping_in_time() -> None:
    import pytest

    stream = api.CaptureStream([CAPTURE, CAPTURE])
    assert stream.points == 2
    with pytest.raises(ValueError, match="overlapping in time"):
        next(stream.tables())
