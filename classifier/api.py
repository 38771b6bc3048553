"""The public API: the CLI and notebooks call only what is here.

Pipeline (data flows one way):
ingest → flows → dissect → k8s tagging → rules → report/graph.

pandas and the stages are imported inside the functions, not with this module: a
``CaptureStream(..., reader_process=True)`` starts its reader process before they load
(~0.5 s of imports that then run beside the read).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from matplotlib.axes import Axes

    from classifier.flows.reading import PointSource
    from classifier.flows.stage import FlowStream
    from classifier.forensics.extract import Extraction
    from classifier.forensics.filters import FlowFilter
    from classifier.rules.diff import Diff

PathArg = str | PathLike[str]
Progress = Callable[[int, int], None]
"""Called with (bytes read so far, total bytes or 0 when unknown)."""

VERSION = "0.1.0"


@dataclass(slots=True)
class Result:
    """Everything kubewire learned from one or more captures, as DataFrames.

    Each table follows its declaration in :mod:`classifier.schema`.
    """

    flows: pd.DataFrame
    """Tagged flows (schema.FLOWS)."""
    hosts: pd.DataFrame
    """One row per endpoint with its role (schema.HOSTS)."""
    findings: pd.DataFrame
    """Analyzer findings (schema.FINDINGS)."""
    tls: pd.DataFrame
    """One row per TLS handshake (schema.TLS)."""
    certificates: pd.DataFrame
    """One row per certificate seen, deduplicated by fingerprint (schema.CERTIFICATES)."""
    http: pd.DataFrame
    """One row per HTTP request/response pair (schema.HTTP)."""
    stats: pd.DataFrame
    """Packet accounting: every record read, by outcome and reason (schema.STATS)."""
    inputs: pd.DataFrame
    """The capture files read, with size, SHA-256, link types, time range (schema.INPUTS)."""
    version: str = VERSION
    filters: dict[str, Any] = field(default_factory=dict)
    """The filters applied to this result (for the chain of custody)."""
    rule_errors: dict[str, str] = field(default_factory=dict)
    """Rules that raised instead of evaluating (rule id → error); empty when all ran."""

    def custody(self) -> dict[str, Any]:
        """Chain-of-custody facts: kubewire's version, inputs' SHA-256 and sizes, filters."""
        return custody(self.inputs, self.filters)

    def packet_totals(self) -> dict[str, int]:
        """Packet accounting → {'read', 'decoded', 'skipped', 'out_of_scope'}."""
        by = self.stats.groupby("outcome", observed=True)["packets"].sum()
        out = {k: int(by.get(k, 0)) for k in ("decoded", "skipped", "out_of_scope")}
        out["read"] = sum(out.values())
        return out

    def summary(self) -> dict[str, Any]:
        """The result → a JSON-ready dict of counts per path and finding, accounting, inputs."""
        import pandas as pd

        paths = self.flows["path"].astype("string").fillna("untagged").value_counts()
        sev = self.findings[~self.findings["suppressed"].fillna(False).astype(bool)]
        return {
            "kubewire_version": self.version,
            "flows": len(self.flows),
            "paths": {str(k): int(v) for k, v in paths.items() if v},
            "findings": {str(k): int(v) for k, v in sev["id"].value_counts().items()},
            "findings_by_severity": {
                str(k): int(v) for k, v in sev["severity"].value_counts().items() if v
            },
            "suppressed_findings": int(self.findings["suppressed"].fillna(False).sum()),
            "packets": self.packet_totals(),
            "skipped": self._reasons("skipped"),
            "out_of_scope": self._reasons("out_of_scope"),
            "inputs": [
                {
                    "capture": r.capture, "format": r.format, "size": int(r.size),
                    "sha256": r.sha256, "link_types": r.link_types, "packets": int(r.packets),
                    "first_ts": None if pd.isna(r.first_ts) else r.first_ts.isoformat(),
                    "last_ts": None if pd.isna(r.last_ts) else r.last_ts.isoformat(),
                }
                for r in self.inputs.itertuples()
            ],
            "filters": self.filters,
            "rule_errors": self.rule_errors,
        }

    def _reasons(self, outcome: str) -> dict[str, int]:
        """Packet accounting → {reason: packets} for one outcome, summed over every capture."""
        rows = self.stats[self.stats["outcome"].astype(str) == outcome]
        by = rows.groupby(rows["reason"].astype("string").fillna(""))["packets"].sum()
        return {str(k): int(v) for k, v in sorted(by.items()) if v}

    def __repr__(self) -> str:
        t = self.packet_totals()
        return (f"<kubewire.Result {len(self.flows)} flows, {len(self.hosts)} hosts, "
                f"{len(self.findings)} findings, {t['read']} packets read "
                f"({t['decoded']} decoded, {t['skipped']} skipped, "
                f"{t['out_of_scope']} out of scope)>")

    def _repr_html_(self) -> str:
        """Jupyter display: inputs, packet accounting, paths, findings by severity, filters."""
        esc = html.escape
        s = self.summary()
        p = s["packets"]
        plaintext = int(self.flows["plaintext"].fillna(False).astype(bool).sum())
        inputs = "".join(
            f"<tr><td>{esc(str(i['capture']))}</td><td>{i['size']:,}</td>"
            f"<td><code>{esc(str(i['sha256'])[:16])}</code></td>"
            f"<td>{esc(str(i['first_ts']))} → {esc(str(i['last_ts']))}</td></tr>"
            for i in s["inputs"])
        paths = "".join(f"<tr><td>{esc(k)}</td><td>{v}</td></tr>" for k, v in s["paths"].items())
        colours = {"critical": "#7f0000", "high": "#c62828", "medium": "#ef6c00",
                   "low": "#f9a825", "info": "#546e7a"}
        order = {k: i for i, k in enumerate(colours)}
        active = self.findings[~self.findings["suppressed"].fillna(False).astype(bool)]
        rows = sorted(active.itertuples(), key=lambda r: (order.get(str(r.severity), 9), r.id))
        findings = "".join(
            f"<tr><td style='color:{colours.get(str(r.severity), '#000')}'><b>"
            f"{esc(str(r.severity))}</b></td><td>{esc(str(r.id))}</td>"
            f"<td>{esc(str(r.subject))}</td><td>{r.count}</td></tr>" for r in rows)
        points = self.flows["capture_points"].fillna("").astype(str).str.count(r"\|") + 1
        npoints = len(self.inputs)
        multi = (f"; {int((points > 1).sum())} flows seen at several capture points"
                 if npoints > 1 else "")
        filt = (f"<p>filters: <code>{esc(str(self.filters))}</code></p>" if self.filters else "")
        return (
            "<div><b>kubewire result</b> "
            f"(kubewire {esc(self.version)}): {s['flows']} flows ({plaintext} plaintext"
            f"{multi}), {len(self.hosts)} hosts, {len(active)} findings; packets read {p['read']}"
            f" (decoded {p['decoded']}, skipped {p['skipped']}, out of scope {p['out_of_scope']})"
            f"{filt}"
            "<details><summary>inputs</summary><table><tr><th>capture</th><th>bytes</th>"
            f"<th>sha256</th><th>time range</th></tr>{inputs}</table></details>"
            "<details open><summary>findings</summary><table><tr><th>severity</th><th>id</th>"
            f"<th>subject</th><th>flows</th></tr>{findings}</table></details>"
            "<details><summary>paths</summary><table><tr><th>path</th><th>flows</th></tr>"
            f"{paths}</table></details></div>"
        )


def custody(inputs: pd.DataFrame | Sequence[dict[str, Any]],
            filters: dict[str, Any] | None = None) -> dict[str, Any]:
    """Inputs table or its rows as dicts (+ filters) → chain-of-custody facts: kubewire's
    version, each input's path, size and SHA-256, and the filters applied."""
    rows = inputs if isinstance(inputs, Sequence) else inputs.to_dict("records")
    return {
        "kubewire_version": VERSION,
        "inputs": [{"capture": str(r["capture"]), "size": int(r["size"]),
                    "sha256": str(r["sha256"])} for r in rows],
        "filters": dict(filters or {}),
    }


def _as_list(paths: PathArg | Sequence[PathArg]) -> list[str]:
    if isinstance(paths, str | PathLike):
        return [str(paths)]
    return [str(p) for p in paths]


@dataclass(slots=True)
class Capture:
    """Flows and protocol facts of captures before any Kubernetes tagging (schema tables)."""

    flows: pd.DataFrame
    """Dissected flows (schema.FLOWS; tagging columns NA)."""
    tls: pd.DataFrame
    certificates: pd.DataFrame
    http: pd.DataFrame
    stats: pd.DataFrame
    """Packet accounting (schema.STATS)."""
    inputs: pd.DataFrame
    """The capture files read (schema.INPUTS)."""

    def custody(self) -> dict[str, Any]:
        """Chain-of-custody facts: kubewire's version, inputs' SHA-256 and sizes."""
        return custody(self.inputs)


def read_capture(
    paths: PathArg | Sequence[PathArg],
    *,
    payload_bytes: int = 16384,
    strict: bool = False,
    progress: Progress | None = None,
    trim_tls: bool = True,
) -> Capture:
    """Capture paths → dissected flows, tls/certificates/http tables and packet accounting.

    ``payload_bytes`` and ``trim_tls`` set what the payload columns keep (see
    :func:`classifier.flows.assemble`). Raises :class:`classifier.CaptureError` when an input
    cannot be read at all.
    """
    from classifier import schema
    from classifier.dissect import dissect
    from classifier.flows import assemble

    assembled = assemble(_as_list(paths), payload_bytes=payload_bytes, strict=strict,
                         progress=progress, trim_tls=trim_tls)
    dis = dissect(assembled.flows, strict=strict)
    return Capture(
        flows=schema.conform(dis.flows, schema.FLOWS),
        tls=schema.conform(dis.tls, schema.TLS),
        certificates=schema.conform(dis.certificates, schema.CERTIFICATES),
        http=schema.conform(dis.http, schema.HTTP),
        stats=schema.conform(assembled.stats, schema.STATS),
        inputs=schema.conform(assembled.inputs, schema.INPUTS),
    )


class CaptureStream:
    """Captures → dissected flow batches (schema.FLOWS, tagging columns NA) handed on while
    the read goes on, as flows finish (see :class:`classifier.flows.FlowStream`): write a flow
    table of any length in memory bounded by the flows live at a time. Rows are in creation
    order within a batch, batches in the order their flows finished; together they are the
    rows of ``read_capture(...).flows``. Iterate once; ``stats``, ``inputs`` and ``custody()``
    are complete afterwards. Raises :class:`classifier.CaptureError` like ``read_capture``.

    With ``reader_process`` (one capture point, on systems with ``fork``) the capture is read
    in a forked child process started at construction, so this process imports and runs the
    dissection meanwhile (two cores busy instead of one); the batches are the same. Fork only
    where no other threads run (the CLI does; a Jupyter kernel has threads)."""

    def __init__(self, paths: PathArg | Sequence[PathArg], *, payload_bytes: int = 16384,
                 strict: bool = False, progress: Progress | None = None,
                 trim_tls: bool = True, reader_process: bool = False) -> None:
        from classifier.flows.reading import open_points  # numpy only: pandas loads later

        self._sources: list[PointSource] = open_points(
            _as_list(paths), payload_bytes, strict, progress, trim_tls=trim_tls,
            process=reader_process)
        self._strict = strict
        self._stream: FlowStream | None = None

    @property
    def points(self) -> int:
        """Capture points being read (rotated files are one; captures overlapping in time
        are one each)."""
        return len(self._sources)

    @property
    def _flows(self) -> FlowStream:
        if self._stream is None:
            from classifier.flows.stage import FlowStream

            self._stream = FlowStream.of(self._sources)
        return self._stream

    def __iter__(self) -> Iterator[pd.DataFrame]:
        from classifier import schema
        from classifier.dissect import dissect

        for frame in self._flows:
            yield schema.conform(dissect(frame, strict=self._strict, tables=False).flows,
                                 schema.FLOWS)

    def tables(self) -> Iterator[pa.Table]:
        """The same batches as Arrow tables instead of frames (schema.FLOWS with the types
        ``schema.arrow_table`` gives: categories as text, timestamps ns UTC, payloads binary),
        made without any pandas frame: what ``kubewire flows -o FILE.csv`` writes (pyarrow
        itself loads pandas for its type checks unless told not to, as the CLI does with
        ``cli.common.arrow_without_pandas``). Iterate either this or the stream itself, once.
        Rotated files are one capture point; captures that overlap in time (several points,
        merged as frames) raise ValueError."""
        from classifier import schema
        from classifier.dissect import dissect_arrow
        from classifier.flows.build import arrow_batches

        if len(self._sources) != 1:
            raise ValueError("CaptureStream.tables(): captures overlapping in time are merged "
                             "as frames; iterate the stream instead")
        for batch in arrow_batches(self._sources[0]):
            flows = dissect_arrow(batch, strict=self._strict)
            yield schema.arrow_table(dict(zip(flows.column_names, flows.columns, strict=True)),
                                     flows.num_rows, schema.FLOWS)

    def stat_rows(self) -> list[dict[str, Any]]:
        """Packet accounting so far as dicts (the ``stats`` rows), without pandas."""
        return [dict(r) for src in self._sources for r in src.stats]

    @property
    def stats(self) -> pd.DataFrame:
        """Packet accounting (schema.STATS) of what was read so far."""
        return self._flows.stats

    @property
    def inputs(self) -> pd.DataFrame:
        """The capture files read so far (schema.INPUTS)."""
        return self._flows.inputs

    def custody(self) -> dict[str, Any]:
        """Chain-of-custody facts: kubewire's version, inputs' SHA-256 and sizes."""
        return custody([r for src in self._sources for r in src.inputs])


def read_flows(
    paths: PathArg | Sequence[PathArg],
    *,
    payload_bytes: int = 16384,
    strict: bool = False,
    progress: Progress | None = None,
    dissected: bool = True,
    trim_tls: bool = True,
) -> pd.DataFrame:
    """Capture paths → the flow table (schema.FLOWS columns; tagging columns left NA).

    With ``dissected`` (default) the dissection columns are filled in too. ``orig_payload``
    and ``resp_payload`` hold each direction's first ``payload_bytes``; a TLS direction's
    stop after its first ChangeCipherSpec/ApplicationData record unless ``trim_tls`` is
    False (see :func:`classifier.flows.assemble`).
    Raises :class:`classifier.CaptureError` when an input cannot be read at all.
    """
    if dissected:
        return read_capture(paths, payload_bytes=payload_bytes, strict=strict,
                            progress=progress, trim_tls=trim_tls).flows
    from classifier import schema
    from classifier.flows import assemble

    flows = assemble(_as_list(paths), payload_bytes=payload_bytes, strict=strict,
                     progress=progress, trim_tls=trim_tls)
    return schema.conform(flows.flows, schema.FLOWS)


def analyze(
    paths: PathArg | Sequence[PathArg],
    inventory: PathArg | Sequence[PathArg] | None = None,
    *,
    baseline: PathArg | None = None,
    filters: FlowFilter | None = None,
    payload_bytes: int = 16384,
    strict: bool = False,
    progress: Progress | None = None,
) -> Result:
    """Capture paths (+ optional inventory files, baseline, filters) → a full :class:`Result`."""
    # tagging, rules and filters load here: `kubewire flows` without them never pays for them
    from classifier import schema
    from classifier.dissect import dissect
    from classifier.flows import assemble
    from classifier.forensics.filters import apply_filter
    from classifier.k8s import load_inventory, tag_paths
    from classifier.rules import evaluate, load_baseline

    inv = load_inventory(_as_list(inventory)) if inventory is not None else None
    base = load_baseline(str(baseline)) if baseline is not None else None
    assembled = assemble(_as_list(paths), payload_bytes=payload_bytes, strict=strict,
                         progress=progress)
    dis = dissect(assembled.flows, strict=strict)
    tagged = tag_paths(dis.flows, inventory=inv, http=dis.http, tls=dis.tls,
                       certificates=dis.certificates)
    flows = tagged.flows
    applied: dict[str, Any] = {}
    if filters is not None:
        flows = apply_filter(flows, filters)
        applied = filters.describe()
    keep = set(flows["uid"])
    http_t = dis.http[dis.http["uid"].isin(keep)].reset_index(drop=True)
    tls_t = dis.tls[dis.tls["uid"].isin(keep)].reset_index(drop=True)
    findings = evaluate(flows, http=http_t, tls=tls_t, certificates=dis.certificates,
                        hosts=tagged.hosts, baseline=base)
    return Result(
        flows=schema.conform(flows, schema.FLOWS),
        hosts=schema.conform(tagged.hosts, schema.HOSTS),
        findings=schema.conform(findings, schema.FINDINGS),
        tls=schema.conform(tls_t, schema.TLS),
        certificates=schema.conform(dis.certificates, schema.CERTIFICATES),
        http=schema.conform(http_t, schema.HTTP),
        stats=schema.conform(assembled.stats, schema.STATS),
        inputs=schema.conform(assembled.inputs, schema.INPUTS),
        filters=applied,
        rule_errors={str(k): str(v) for k, v in findings.attrs.get("rule_errors", {}).items()},
    )


def plot_graph(result: Result, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Result → the communication graph drawn on ``ax`` (a new figure when None)."""
    from classifier.report.graph import plot_graph as _plot

    return _plot(result, ax=ax, **kwargs)


def plot_timeline(result: Result, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Result → flows over time per path with findings marked, drawn on ``ax``."""
    from classifier.report.timeline import plot_timeline as _plot

    return _plot(result, ax=ax, **kwargs)


def diff(a: Result, b: Result) -> Diff:
    """Two results → the findings and paths that appeared or disappeared from A to B."""
    from classifier.rules.diff import diff as _diff

    return _diff(a.findings, a.flows, b.findings, b.flows)


def proxy_chains(result: Result) -> pd.DataFrame:
    """Result → apiserver-proxy chains: each apiserver→target leg linked to its client leg."""
    from classifier.forensics.proxy import proxy_chains as _proxy_chains

    return _proxy_chains(result.flows, result.http)


def extract_evidence(
    paths: PathArg | Sequence[PathArg],
    out: PathArg,
    *,
    result: Result | None = None,
    uids: Sequence[str] = (),
    finding_ids: Sequence[str] = (),
    selection: dict[str, Any] | None = None,
) -> Extraction:
    """Captures + selected flows (uids and/or every flow of the given finding ids) → ``out``.

    Writes the selected flows' original packets, byte for byte and in time order, to a pcapng
    file whose packet comments give each packet's flow, path, roles and findings, and whose
    header records the inputs' SHA-256 and kubewire's version. ``result`` is
    ``analyze(paths)`` when the caller already has it.
    """
    from classifier.forensics.extract import extract as _extract

    plist = _as_list(paths)
    res = result if result is not None else analyze(plist)
    wanted = list(uids)
    for fid in finding_ids:
        hit = res.findings[res.findings["id"] == fid]
        for u in hit["uids"]:
            wanted.extend(str(x) for x in u)
    chosen = selection if selection is not None else {
        "flows": ",".join(uids), "findings": ",".join(finding_ids)}
    return _extract(plist, list(dict.fromkeys(wanted)), str(out), flows=res.flows,
                    findings=res.findings, selection=chosen)
