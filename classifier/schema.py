"""Every table kubewire produces, declared once: column names, dtypes and meaning.

Producers build frames with :func:`empty` / :func:`conform`; consumers may rely on every
column being present with its declared dtype, even when a table has no rows.
Column names follow Zeek's logs (conn.log, ssl.log, http.log, x509.log) where Zeek has one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # pandas loads with the first frame made: the declarations need none of it
    import pandas as pd

UTC_TS: Final = "datetime64[ns, UTC]"


@dataclass(frozen=True, slots=True)
class Column:
    """One column: name, pandas dtype, a one-line meaning, and whether it is exported."""

    name: str
    dtype: str
    doc: str
    export: bool = True
    """False for bulky internal columns (raw payload prefixes) left out of CSV/Parquet/JSON."""


@dataclass(frozen=True, slots=True)
class Table:
    """A named, ordered set of columns."""

    name: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        """Column names in declared order."""
        return [c.name for c in self.columns]

    @property
    def dtypes(self) -> dict[str, str]:
        """Column name → pandas dtype string."""
        return {c.name: c.dtype for c in self.columns}

    @property
    def export_names(self) -> list[str]:
        """Names of the columns written to files."""
        return [c.name for c in self.columns if c.export]

    def __add__(self, other: Table) -> Table:
        return Table(self.name, self.columns + other.columns)


def _t(name: str, cols: Sequence[tuple[str, str, str] | tuple[str, str, str, bool]]) -> Table:
    return Table(name, tuple(Column(*c) for c in cols))


# --- flows: one row per connection (TCP) or conversation (UDP) ---------------------------------

FLOW_BASE: Final = _t("flows", [
    ("uid", "string", "stable flow id (Zeek-style, 'C' + 17 base62 chars), deterministic per input"),
    ("ts", UTC_TS, "time of the first packet"),
    ("duration", "float64", "seconds from first to last packet"),
    ("orig_h", "string", "originator address (SYN sender, else first sender)"),
    ("orig_p", "UInt16", "originator port"),
    ("resp_h", "string", "responder address"),
    ("resp_p", "UInt16", "responder port"),
    ("proto", "category", "transport: tcp or udp"),
    ("orig_pkts", "UInt64", "packets sent by the originator"),
    ("resp_pkts", "UInt64", "packets sent by the responder"),
    ("orig_bytes", "UInt64", "transport payload bytes sent by the originator"),
    ("resp_bytes", "UInt64", "transport payload bytes sent by the responder"),
    ("orig_ip_bytes", "UInt64", "IP-level bytes sent by the originator"),
    ("resp_ip_bytes", "UInt64", "IP-level bytes sent by the responder"),
    ("conn_state", "category", "Zeek conn_state (S0, S1, SF, REJ, RSTO, RSTR, SH, OTH, ...)"),
    ("history", "string", "Zeek history letters (ShADadFfRr..., upper = originator)"),
    ("orig_guessed", "boolean", "True when no SYN was seen and the originator was guessed"),
    ("missed_bytes", "UInt64", "bytes in sequence gaps inside the reassembled prefixes"),
    ("vlan", "string", "802.1Q/802.1ad VLAN ids outer→inner joined by '.', NA when untagged"),
    ("tunnel", "category", "overlay the flow was carried in: vxlan, geneve, ipip, or NA"),
    ("tunnel_orig_h", "string", "outer source address of the tunnel (originator side)"),
    ("tunnel_resp_h", "string", "outer destination address of the tunnel (originator side)"),
    ("tunnel_id", "UInt32", "VXLAN VNI / Geneve VNI, NA otherwise"),
    ("capture", "string", "capture file of the first packet (path as given)"),
    ("first_frame", "UInt64", "1-based frame number of the first packet in that capture"),
    ("last_frame", "UInt64", "frame number of the last packet (in its own capture file)"),
    ("captures", "string", "every capture file the flow was seen in, joined by '|'"),
    ("capture_points", "string", "capture points (sets of time-contiguous files) that saw the flow, '|'"),
    ("orig_isn", "UInt32", "originator's TCP initial sequence number (NA for UDP / no SYN)"),
    ("resp_isn", "UInt32", "responder's TCP initial sequence number"),
    ("orig_burst_interval", "float64", "median seconds between originator payload bursts (>1 s apart)"),
    ("orig_payload", "object", "reassembled first bytes sent by the originator", False),
    ("resp_payload", "object", "reassembled first bytes sent by the responder", False),
])

# --- dissection: what the first bytes say (added by classifier.dissect) ------------------------

FLOW_DISSECT: Final = _t("flows", [
    ("app_proto", "category", "tls, http, http2, grpc, ssh, connect, dns, unknown, ..."),
    ("tls_version", "string", "negotiated TLS version (TLSv1.0..TLSv1.3), NA if not TLS"),
    ("tls_sni", "string", "server_name from the ClientHello"),
    ("tls_alpn", "string", "ALPN protocols offered by the client, joined by ','"),
    ("tls_alpn_selected", "string", "ALPN chosen by the server when visible (TLS <= 1.2)"),
    ("tls_cipher", "string", "negotiated cipher suite name"),
    ("tls_ja4", "string", "JA4-style ClientHello fingerprint"),
    ("tls_hidden", "string", "what TLS 1.3 encrypts and we therefore cannot see, joined by ','"),
    ("server_cert_subject", "string", "leaf certificate subject (RFC 4514)"),
    ("server_cert_issuer", "string", "leaf certificate issuer (RFC 4514)"),
    ("server_cert_sans", "string", "leaf subjectAltNames joined by ','"),
    ("server_cert_self_signed", "boolean", "chain ends in a self-signed root sent by the server"),
    ("server_cert_fingerprint", "string", "SHA-256 of the leaf certificate (hex)"),
    ("client_cert_requested", "boolean", "server sent a CertificateRequest (NA = not visible)"),
    ("client_cert_presented", "boolean", "client Certificate non-empty (NA = not visible)"),
    ("client_cert_subject", "string", "client leaf certificate subject"),
    ("tls_alert", "string", "first TLS alert seen (level:description)"),
    ("http_method", "string", "first request method (HTTP/1.x or HTTP/2 :method)"),
    ("http_path", "string", "first request path without query"),
    ("http_query", "string", "first request query string"),
    ("http_host", "string", "Host / :authority of the first request"),
    ("http_user_agent", "string", "User-Agent of the first request"),
    ("http_status", "UInt16", "status code of the first response"),
    ("http_upgrade", "string", "Upgrade header (SPDY/3.1, websocket, h2c)"),
    ("http_stream_protocol", "string", "X-Stream-Protocol-Version / Sec-WebSocket-Protocol"),
    ("http_forwarded_uri", "string", "X-Forwarded-Uri (apiserver proxy prefix)"),
    ("http_requests", "UInt32", "requests seen in the captured prefix"),
    ("k8s_status_reason", "string", "reason of a Kubernetes Status body in the first response"),
    ("auth_kind", "string", "credential kinds presented: bearer, basic, negotiate, ntlm, cookie, ..."),
    ("auth_fingerprint", "string", "first 12 hex of SHA-256 of the first credential (never the value)"),
    ("grpc_method", "string", "first gRPC method (/package.Service/Method)"),
    ("connect_target", "string", "host:port of an HTTP CONNECT request"),
    ("tunnel_proto", "string", "what a CONNECT / upgraded stream carries next (tls, http, ...)"),
    ("ssh_client", "string", "client SSH banner"),
    ("ssh_server", "string", "server SSH banner"),
    ("payload_hint", "string", "k8s-protobuf, etcd-registry, ... joined by ','"),
    ("direction_swapped", "boolean", "bytes show the originator is really the server (roles read swapped)"),
    ("dissect_error", "string", "why dissection stopped (too_short, no_match, tls_record_truncated...)"),
])

# --- Kubernetes tagging (added by classifier.k8s) ----------------------------------------------

FLOW_K8S: Final = _t("flows", [
    ("path", "category", "control-plane path (node-to-apiserver, apiserver-to-kubelet, ...)"),
    ("client_role", "category", "role of the originator (apiserver, node, pod, etcd, ...)"),
    ("server_role", "category", "role of the responder"),
    ("client_name", "string", "node name or namespace/pod of the originator when known"),
    ("server_name", "string", "node name or namespace/pod of the responder when known"),
    ("k8s_operation", "string", "logs, exec, attach, port-forward, proxy, lease, watch, ..."),
    ("plaintext", "boolean", "application bytes travel unencrypted"),
    ("auth", "category", "mtls, bearer, basic, none, unknown"),
    ("path_confidence", "float64", "0..1 confidence in path"),
    ("path_evidence", "string", "facts used for the path, joined by '; '"),
    ("path_note", "string", "context such as 'rides konnectivity tunnel'"),
])

FLOWS: Final = FLOW_BASE + FLOW_DISSECT + FLOW_K8S

# --- detail tables ------------------------------------------------------------------------------

TLS: Final = _t("tls", [
    ("uid", "string", "flow uid"),
    ("ts", UTC_TS, "time of the flow's first packet"),
    ("orig_h", "string", "client address"),
    ("resp_h", "string", "server address"),
    ("resp_p", "UInt16", "server port"),
    ("version", "string", "negotiated version"),
    ("client_versions", "string", "versions the client offered, joined by ','"),
    ("cipher", "string", "negotiated cipher suite"),
    ("server_name", "string", "SNI"),
    ("alpn_offered", "string", "ALPN list offered, joined by ','"),
    ("alpn_selected", "string", "ALPN selected (visible only in TLS <= 1.2)"),
    ("groups", "string", "supported groups, joined by ','"),
    ("key_share_bytes", "UInt32", "total key share bytes in the ClientHello"),
    ("client_hello_bytes", "UInt32", "ClientHello handshake length"),
    ("ja4", "string", "JA4-style fingerprint"),
    ("cert_chain_fps", "string", "server chain SHA-256 fingerprints, leaf first, joined by ','"),
    ("client_cert_chain_fps", "string", "client chain SHA-256 fingerprints"),
    ("client_cert_requested", "boolean", "CertificateRequest seen"),
    ("client_cert_presented", "boolean", "non-empty client Certificate seen"),
    ("client_ca_names", "string", "acceptable CA names from the CertificateRequest, joined by '|'"),
    ("alert", "string", "first alert"),
    ("hidden", "string", "what the protocol version hides from a passive observer"),
    ("established", "boolean", "handshake completed as far as visible"),
])

CERTIFICATES: Final = _t("certificates", [
    ("fingerprint", "string", "SHA-256 of the DER certificate (hex)"),
    ("subject", "string", "RFC 4514 subject"),
    ("issuer", "string", "RFC 4514 issuer"),
    ("common_name", "string", "subject CN"),
    ("organization", "string", "subject O values joined by ','"),
    ("sans", "string", "subjectAltNames joined by ','"),
    ("serial", "string", "serial number (hex)"),
    ("not_before", UTC_TS, "validity start"),
    ("not_after", UTC_TS, "validity end"),
    ("key_type", "string", "RSA, EC, Ed25519, ..."),
    ("key_bits", "UInt32", "key size in bits"),
    ("is_ca", "boolean", "basicConstraints CA flag"),
    ("self_signed", "boolean", "subject == issuer and signature verifies with its own key"),
    ("kubelet_self_signed", "boolean", "matches kubelet's '<host>@<ts>' / '<host>-ca@<ts>' style"),
    ("seen_as", "string", "server, client, or both"),
    ("uids", "object", "list of flow uids the certificate was seen in"),
    ("hosts", "string", "addresses that presented it, joined by ','"),
    ("first_seen", UTC_TS, "first flow timestamp"),
])

HTTP: Final = _t("http", [
    ("uid", "string", "flow uid"),
    ("ts", UTC_TS, "time of the flow's first packet"),
    ("orig_h", "string", "client address"),
    ("resp_h", "string", "server address"),
    ("resp_p", "UInt16", "server port"),
    ("trans_depth", "UInt32", "position of the request in the flow (1-based)"),
    ("version", "string", "HTTP/1.0, HTTP/1.1, HTTP/2"),
    ("method", "string", "request method"),
    ("host", "string", "Host header or :authority"),
    ("uri", "string", "request path without query"),
    ("query", "string", "query string"),
    ("user_agent", "string", "User-Agent"),
    ("content_type", "string", "request Content-Type"),
    ("status_code", "UInt16", "response status"),
    ("status_msg", "string", "response reason phrase"),
    ("resp_content_type", "string", "response Content-Type"),
    ("upgrade", "string", "Upgrade header"),
    ("stream_protocol", "string", "X-Stream-Protocol-Version / Sec-WebSocket-Protocol"),
    ("x_forwarded_for", "string", "X-Forwarded-For"),
    ("x_forwarded_uri", "string", "X-Forwarded-Uri"),
    ("x_forwarded_host", "string", "X-Forwarded-Host"),
    ("x_forwarded_proto", "string", "X-Forwarded-Proto"),
    ("auth_kind", "string", "credential kind(s) in this request"),
    ("auth_fingerprint", "string", "short SHA-256 fingerprint of the credential"),
    ("k8s_status_reason", "string", "reason from a Kubernetes Status response body"),
    ("grpc_method", "string", "gRPC method for HTTP/2 requests"),
    ("connect_target", "string", "CONNECT target host:port"),
    ("payload_hint", "string", "k8s-protobuf, etcd-registry, ..."),
])

HOSTS: Final = _t("hosts", [
    ("ip", "string", "endpoint address"),
    ("role", "category",
     "apiserver, node, pod, etcd, konnectivity-server, service-vip, client, dns, unknown"),
    ("name", "string", "node name or namespace/pod when known"),
    ("node", "string", "node that hosts this endpoint when known"),
    ("confidence", "float64", "0..1"),
    ("evidence", "string", "facts behind the role, joined by '; '"),
    ("source", "category", "inventory, inferred, or both"),
    ("flows", "UInt64", "flows the endpoint takes part in"),
    ("bytes", "UInt64", "payload bytes sent and received"),
])

FINDINGS: Final = _t("findings", [
    ("id", "string", "stable rule id, e.g. KUBELET_READONLY_PORT"),
    ("severity", "category", "critical, high, medium, low, info"),
    ("title", "string", "what was seen"),
    ("subject", "string", "what the finding is about: a host pair, a source, ..."),
    ("count", "UInt64", "flows covered"),
    ("first_seen", UTC_TS, "earliest covered flow"),
    ("last_seen", UTC_TS, "latest covered flow end"),
    ("uids", "object", "list of flow uids covered"),
    ("evidence", "object", "list of dicts: capture, frame, uid and the facts observed"),
    ("references", "object", "list of reference strings (doc section, CIS id, KHV id)"),
    ("suppressed", "boolean", "accepted in the baseline"),
    ("suppress_reason", "string", "why the baseline accepts it"),
])

STATS: Final = _t("stats", [
    ("capture", "string", "input file"),
    ("outcome", "category", "decoded, skipped, or out_of_scope"),
    ("reason", "string", "snake_case reason (ipv4_fragment, truncated_record, non_ip, ...)"),
    ("packets", "UInt64", "records with this outcome and reason"),
])

INPUTS: Final = _t("inputs", [
    ("capture", "string", "path as given ('-' for stdin)"),
    ("format", "string", "pcap, pcap-ns, pcapng, with '+gzip' when compressed"),
    ("size", "UInt64", "bytes read from the file"),
    ("sha256", "string", "SHA-256 of the bytes read"),
    ("link_types", "string", "link-layer types seen, joined by ','"),
    ("packets", "UInt64", "records read"),
    ("first_ts", UTC_TS, "first record time"),
    ("last_ts", UTC_TS, "last record time"),
])

ALL_TABLES: Final = {t.name: t for t in (FLOWS, TLS, CERTIFICATES, HTTP, HOSTS, FINDINGS, STATS, INPUTS)}


_EMPTY: dict[Table, pd.DataFrame] = {}
"""A zero-row frame per table (its name and columns), made once: a frame costs ~0.3 ms a
column to make."""


def empty(table: Table) -> pd.DataFrame:
    """Table → a zero-row DataFrame with every column and dtype (a new frame each call)."""
    import pandas as pd

    template = _EMPTY.get(table)
    if template is None:
        template = _EMPTY[table] = pd.DataFrame(
            {c.name: pd.Series([], dtype=c.dtype) for c in table.columns})
    return template.copy(deep=False)  # copy-on-write: changes to it never reach the template


def conform(df: pd.DataFrame | Mapping[str, Any] | Iterable[Mapping[str, Any]] | None,
            table: Table) -> pd.DataFrame:
    """Rows or a frame → a frame with exactly the table's columns, in order, with its dtypes.

    Missing columns are filled with NA; extra columns are an error (the schema is the contract).
    """
    import pandas as pd

    if df is None:
        return empty(table)
    frame = df if isinstance(df, pd.DataFrame) else pd.DataFrame(df)
    if conforms(frame, table):
        return frame.copy(deep=False)  # a new frame (copy-on-write): callers may add columns
    check_names(frame.columns, table)
    n = len(frame)
    out: dict[str, pd.Series[Any]] = {}
    for c in table.columns:
        if c.name in frame.columns:
            s = frame[c.name]
            if str(s.dtype) == c.dtype or c.dtype == "object":
                pass  # already the column's dtype: astype would only cost time
            elif c.dtype == UTC_TS:
                s = pd.to_datetime(s, utc=True)
                s = s.astype(UTC_TS)
            else:
                s = s.astype(c.dtype)
            out[c.name] = s
        else:
            out[c.name] = na_column(c.dtype, n)
    return frame_of(out, n)  # by position, whatever the frame's index


def check_names(names: Iterable[Any], table: Table) -> None:
    """Column names → ValueError when any is not the table's (the schema is the contract)."""
    extra = set(names) - set(table.names)
    if extra:
        raise ValueError(f"{table.name}: columns not in the schema: {sorted(extra)}")


def frame_of(columns: Mapping[str, pd.Series[Any]], n: int) -> pd.DataFrame:
    """Columns of ``n`` values each → a frame of them by position (index 0..n-1), as
    ``pd.DataFrame`` makes it from the columns with their indexes reset.

    The values go in as arrays on one index (Series would each bring an index to reconcile:
    ~0.2 ms a column); object columns stay Series (an object array would be inferred as text).
    """
    import pandas as pd

    values = {k: s.array if s.dtype != object else s if _is_range(s.index, n)
              else s.reset_index(drop=True) for k, s in columns.items()}
    return pd.DataFrame(values, index=pd.RangeIndex(n), copy=False)


def _is_range(index: pd.Index, n: int) -> bool:
    """Is ``index`` 0..n-1 in order (positions and labels agree)?"""
    import pandas as pd

    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 \
        and len(index) == n


def conforms(frame: pd.DataFrame, table: Table) -> bool:
    """Frame → is it already exactly the table (names, order, dtypes, a 0..n-1 index)?"""
    if list(frame.columns) != table.names:
        return False
    if not _is_range(frame.index, len(frame)):
        return False
    return all(str(dt) == c.dtype for dt, c in zip(frame.dtypes, table.columns, strict=True))


def is_missing(value: Any) -> bool:
    """One cell → is it a missing-value marker (None, pd.NA, pd.NaT or a float NaN)?"""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    pd = sys.modules.get("pandas")  # NA and NaT exist only once pandas is loaded
    return pd is not None and (value is pd.NA or value is pd.NaT)


_EMPTY_COLUMNS: dict[str, pd.Series[Any]] = {}
"""A zero-length column per dtype name, made once (a categorical dtype costs ~0.5 ms)."""


def na_column(dtype: str, n: int) -> pd.Series[Any]:
    """dtype + length → a column of that dtype holding only its missing-value marker (NaT,
    NaN or NA; None for object columns)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    if dtype == "object":
        return pd.Series([None] * n, dtype=object)
    empty_column = _EMPTY_COLUMNS.get(dtype)
    if empty_column is None:
        empty_column = _EMPTY_COLUMNS[dtype] = pd.Series([], dtype=dtype)
    if isinstance(empty_column.dtype, pd.StringDtype) and empty_column.dtype.storage == "pyarrow":
        # Arrow's null array of the column's own Arrow type: ~5× faster than a take
        nulls = pa.nulls(n, pa.array(empty_column.array).type)
        return pd.Series(pd.arrays.ArrowStringArray(nulls), copy=False)
    if isinstance(empty_column.dtype, pd.api.extensions.ExtensionDtype):
        # taking position -1 n times fills with the dtype's NA (~10× faster than reindexing)
        return pd.Series(empty_column.array.take(np.full(n, -1, np.intp), allow_fill=True),
                         copy=False)
    # reindexing an empty column fills with the dtype's marker in one step (~5× faster than
    # converting n markers one by one)
    return empty_column.reindex(pd.RangeIndex(n))


def for_export(df: pd.DataFrame, table: Table) -> pd.DataFrame:
    """A table's frame → only the columns meant for files (drops raw payload prefixes)."""
    return df[[n for n in table.export_names if n in df.columns]]


# --- the same tables as Arrow columns (a pandas-free path to files) ----------------------------

_ARROW_TYPES: Final = {
    "string": "large_string", "category": "large_string", "boolean": "bool_",
    "float64": "float64", "UInt16": "uint16", "UInt32": "uint32", "UInt64": "uint64",
}


def arrow_type(dtype: str) -> Any:
    """A column's pandas dtype → the Arrow type its values take without pandas (categories
    as their text, timestamps ns UTC, object columns as binary)."""
    import pyarrow as pa

    if dtype == UTC_TS:
        return pa.timestamp("ns", "UTC")
    if dtype == "object":
        return pa.large_binary()
    return getattr(pa, _ARROW_TYPES[dtype])()


def arrow_column(values: Any, dtype: str, n: int | None = None) -> Any:
    """A column's values (numpy array, list or Arrow array or chunked array; None/NaN missing; timestamps as
    int64 ns) → an Arrow array of ``arrow_type(dtype)``; ``values`` None → ``n`` nulls.

    Text columns holding other values take ``str`` of each, as pandas' ``astype("string")``
    does; values that do not fit the type raise as ``astype`` would (ValueError)."""
    import pyarrow as pa

    kind = arrow_type(dtype)
    if values is None:
        return pa.nulls(n or 0, kind)
    if isinstance(values, pa.ChunkedArray):
        values = one_array(values)
    if isinstance(values, pa.Array):
        return values if values.type == kind else values.cast(kind)
    try:
        return pa.array(values, kind, from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid) as exc:
        if not pa.types.is_large_string(kind):
            raise ValueError(f"{dtype} column: {exc}") from None
    return pa.array([None if is_missing(v) else str(v) for v in values], kind)


def one_array(column: Any) -> Any:
    """A ``pyarrow.ChunkedArray`` → one array (a single chunk as it is: combining copies)."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def arrow_table(columns: Mapping[str, Any], n: int, table: Table) -> Any:
    """Columns by name (absent = all missing) → a ``pyarrow.Table`` of ``n`` rows with exactly
    the table's columns in order, typed as ``arrow_column`` makes them."""
    import pyarrow as pa

    check_names(columns, table)
    return pa.table({c.name: arrow_column(columns.get(c.name), c.dtype, n)
                     for c in table.columns})
