"""Evidence extraction: the original packets of selected flows → one annotated pcapng file.

Packets are copied byte for byte from the input records, written in time order with their
exact timestamps (ns resolution) on one interface per (capture, source interface, link type).
Each packet carries a comment naming its flow uid, path, roles, findings and where it came
from; the section header records every input's SHA-256 and size and kubewire's version.
Inputs are only ever opened for reading; the output is written to a temporary file beside the
target and renamed into place, and may not be one of the inputs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from classifier.errors import CaptureError
from classifier.forensics.pcapng import InterfaceSpec, PcapngWriter

log = logging.getLogger("kubewire.forensics.extract")

_HASH_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class InputFile:
    """A capture read for extraction: path as given, size and SHA-256 of its bytes."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Extraction:
    """What :func:`extract` wrote."""

    out: str
    packets: int
    flows: int
    """Selected flows that had at least one packet written."""
    missing: list[str] = field(default_factory=list)
    """Selected uids with no packet in the inputs (e.g. a uid from another capture)."""
    inputs: list[InputFile] = field(default_factory=list)
    sha256: str = ""
    """SHA-256 of the written file."""


def kubewire_version() -> str:
    """The installed kubewire version, or 'unknown'."""
    try:
        return metadata.version("kubewire")
    except metadata.PackageNotFoundError:
        return "unknown"


def hash_file(path: str) -> InputFile:
    """A capture path → its size and SHA-256 (read-only, streamed)."""
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return InputFile(path=path, size=size, sha256=digest.hexdigest())


def custody_comments(inputs: Sequence[InputFile], version: str,
                     selection: dict[str, Any] | None = None) -> list[str]:
    """Inputs + version + selection → the section-header comments of the chain of custody."""
    lines = [f"kubewire {version} evidence extract"]
    lines += [f"input sha256={i.sha256} size={i.size} path={i.path}" for i in inputs]
    if selection:
        lines.append("selection " + " ".join(f"{k}={v}" for k, v in selection.items()))
    return lines


def flow_annotations(flows: pd.DataFrame | None,
                     findings: pd.DataFrame | None) -> dict[str, str]:
    """Tagged flows + findings → uid → one-line description for packet comments."""
    by_uid: dict[str, list[str]] = {}
    if findings is not None and len(findings):
        for fid, sev, uids in zip(findings["id"], findings["severity"], findings["uids"],
                                  strict=True):
            for uid in uids if isinstance(uids, list | tuple) else []:
                by_uid.setdefault(str(uid), []).append(f"{fid}({sev})")
    out: dict[str, str] = {}
    if flows is None:
        return {u: "findings=" + ",".join(f) for u, f in by_uid.items()}
    for row in flows.itertuples(index=False):
        uid = str(row.uid)
        parts = [f"{row.proto} {_hp(row.orig_h, row.orig_p)} -> {_hp(row.resp_h, row.resp_p)}"]
        parts.append(f"path={_s(getattr(row, 'path', None))}")
        parts.append(f"client={_s(getattr(row, 'client_role', None))}"
                     + _name(getattr(row, "client_name", None)))
        parts.append(f"server={_s(getattr(row, 'server_role', None))}"
                     + _name(getattr(row, "server_name", None)))
        parts.append("findings=" + (",".join(dict.fromkeys(by_uid.get(uid, []))) or "none"))
        out[uid] = " ".join(parts)
    return out


def _s(value: Any) -> str:
    return "unknown" if value is None or pd.isna(value) else str(value)


def _name(value: Any) -> str:
    return "" if value is None or pd.isna(value) else f"({value})"


def _hp(host: Any, port: Any) -> str:
    h, p = _s(host), _s(port)
    return f"[{h}]:{p}" if ":" in h else f"{h}:{p}"


@dataclass(slots=True)
class _Packet:
    ts: int
    order: int
    frame: int
    capture: str
    uid: str
    iface: InterfaceSpec
    data: bytes
    orig_len: int


def extract(paths: Sequence[str], uids: Iterable[str], out: str, *,
            flows: pd.DataFrame | None = None, findings: pd.DataFrame | None = None,
            index: pd.DataFrame | None = None,
            selection: dict[str, Any] | None = None) -> Extraction:
    """Captures + flow uids → ``out`` (pcapng) holding those flows' original packets.

    ``flows``/``findings`` annotate the packets (path, roles, findings); ``index`` is
    ``classifier.flows.packet_index(paths)`` when the caller already has it.
    Raises CaptureError for unreadable inputs or an output path that is an input.
    """
    paths = list(dict.fromkeys(str(p) for p in paths))  # a file given twice is read once
    _check_output(paths, out)
    inputs = [hash_file(p) for p in paths]
    wanted = {str(u) for u in uids}
    if index is None:
        from classifier.flows import packet_index

        index = packet_index(paths)  # uids of the merged flow table when several points
    sel = index[index["uid"].astype("string").isin(wanted)]
    frames: dict[str, dict[int, str]] = {p: {} for p in paths}
    for cap, frame, uid in zip(sel["capture"].astype(str), sel["frame"].astype("int64"),
                               sel["uid"].astype(str), strict=True):
        frames.setdefault(cap, {})[int(frame)] = uid
    packets = []
    for order, path in enumerate(paths):
        if frames.get(path):
            packets.extend(_read_selected(path, order, frames[path]))
    packets.sort(key=lambda p: (p.ts, p.order, p.frame))
    notes = flow_annotations(flows, findings)
    version = kubewire_version()
    target = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=".kubewire-extract-", suffix=".pcapng",
                               dir=str(target.parent.resolve()))
    try:
        with os.fdopen(fd, "wb") as fh:
            writer = PcapngWriter(fh, comments=custody_comments(inputs, version, selection),
                                  userappl=f"kubewire {version}",
                                  os_name=f"{platform.system()} {platform.release()}")
            for p in packets:
                iface = writer.interface(p.iface)
                note = notes.get(p.uid, "")
                comment = f"kubewire flow {p.uid} {note} source={p.capture}#{p.frame}"
                writer.packet(iface, p.ts, p.data, p.orig_len, [" ".join(comment.split())])
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    written = {p.uid for p in packets}
    return Extraction(out=str(target), packets=len(packets), flows=len(written),
                      missing=sorted(wanted - written), inputs=inputs,
                      sha256=hash_file(str(target)).sha256)


def _check_output(paths: Sequence[str], out: str) -> None:
    if "-" in paths:
        raise CaptureError("extract reads each capture twice; stdin ('-') cannot be used")
    target = Path(out)
    if not target.parent.is_dir():
        raise CaptureError(f"{out}: folder {target.parent} does not exist")
    if target.exists():
        for p in paths:
            try:
                same = os.path.samefile(p, target)
            except OSError:
                same = False
            if same:
                raise CaptureError(f"{out}: is an input capture; refusing to overwrite evidence")


def _read_selected(path: str, order: int, frames: dict[int, str]) -> list[_Packet]:
    """One capture + {frame: uid} → those frames' records, bytes copied as read."""
    from classifier.ingest import iter_records

    out: list[_Packet] = []
    last = max(frames)
    for rec in iter_records(path):
        uid = frames.get(rec.frame)
        if uid is not None:
            name = rec.interface_name or f"if{rec.interface}"
            spec = InterfaceSpec(linktype=rec.linktype, snaplen=0,
                                 name=f"{Path(path).name}:{name}",
                                 description=f"{path} interface {rec.interface} "
                                             f"linktype {rec.linktype}")
            out.append(_Packet(ts=rec.ts_ns, order=order, frame=rec.frame, capture=path, uid=uid,
                               iface=spec, data=bytes(rec.data), orig_len=rec.orig_len))
        if rec.frame >= last:
            break
    if len(out) != len(frames):
        log.warning("%s: %d of %d indexed frames not found", path, len(frames) - len(out),
                    len(frames))
    return out
