"""Capture reading: pcap/pcapng records → decoded packets, with accounting.

``CaptureReader`` streams a file in chunks; ``decode`` turns each chunk's records into
per-packet numpy arrays; ``iter_records`` hands out raw records one by one (for extraction).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from classifier.ingest.decode import Packets, decode
from classifier.ingest.reader import CaptureReader, RecordBatch
from classifier.ingest.reasons import outcome, reason_name

__all__ = ["CaptureReader", "Packets", "RawRecord", "RecordBatch", "decode", "iter_records",
           "outcome", "reason_name"]


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One packet record exactly as stored in the capture."""

    frame: int
    """1-based frame number, as tshark numbers the file's packets."""
    ts_ns: int
    """Capture time, nanoseconds since the Unix epoch (UTC)."""
    linktype: int
    """Link-layer type of the record's interface (LINKTYPE_* number), -1 if unknown."""
    caplen: int
    orig_len: int
    data: bytes
    """The captured bytes of the record (caplen bytes)."""
    interface: int
    """Interface id (pcapng; 0 for classic pcap)."""
    interface_name: str
    """Interface name from the pcapng IDB when given, else ''."""


def iter_records(path: str) -> Iterator[RawRecord]:
    """Capture path (or '-') → every packet record in file order, as RawRecord.

    Damaged stretches (corrupt headers, a cut-short last record) are skipped, as in
    :func:`classifier.flows.assemble`, so frame numbers agree with the flow table's
    ``first_frame``/``last_frame`` and with tshark. Raises CaptureError when not a capture.
    """
    reader = CaptureReader(path)
    for b in reader.batches():
        names = [i.name for i in reader.interfaces]
        for k in range(len(b)):
            fno = int(b.frame[k])
            if fno == 0:
                continue
            o, cl = int(b.off[k]), int(b.caplen[k])
            ifid = int(b.iface[k])
            yield RawRecord(fno, int(b.ts[k]), int(b.linktype[k]), cl, int(b.origlen[k]),
                            bytes(b.buf[o:o + cl]), ifid,
                            names[ifid] if 0 <= ifid < len(names) else "")
