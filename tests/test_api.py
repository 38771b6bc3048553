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
