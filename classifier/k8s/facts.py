"""One dissected flow (+ its HTTP requests) → the Kubernetes-relevant facts the tables key on.

Facts are plain values and short snake_case flags; the role signals (:mod:`.signals`) and the
path rules (:mod:`.paths`) are data tables over them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from classifier import schema
from classifier.k8s import ports as P

KUBE_API_PATH: Final = re.compile(r"^/(api(/v1(/.*)?)?/?|apis(/.*)?|version/?|openapi/.*)$")
"""Kubernetes API URL paths: /api, /api/v1/..., /apis/..., /version, /openapi/v2|v3."""
HEALTH_PATH: Final = re.compile(r"^/(healthz|livez|readyz)(/.*)?$")
KUBELET_PATH: Final = re.compile(
    r"^/(pods/?|runningpods/?|stats(/.*)?|metrics(/.*)?|spec/?|configz|containerLogs/.+|exec/.+|"
    r"attach/.+|portForward/.+|run/.+|logs(/.*)?|checkpoint/.+|debug/(pprof|flags)/.*|cri/.+)$")
"""kubelet handlers, pkg/kubelet/server/server.go (k8s-signatures §3.2)."""
PROXY_URI: Final = re.compile(
    r"^/api/v1/(namespaces/(?P<ns>[^/]+)/(?P<kind>pods|services)|(?P<nodes>nodes))/"
    r"(?P<id>[^/]+)/proxy(/|$)")
"""Apiserver proxy prefix (pod/service/node ResourceLocation, k8s-signatures §9)."""
KUBELET_SELF_SIGNED_CN: Final = re.compile(r"^(?P<host>.+)@(?P<ts>\d{9,11})$")
"""kubelet's GenerateSelfSignedCertKey: CN '<host>@<unix-seconds>' (client-go util/cert)."""
APISERVER_SANS: Final = ("kubernetes.default.svc", "kubernetes.default")
APISERVER_CLIENT_CNS: Final = frozenset({"kube-apiserver-kubelet-client", "kube-apiserver-etcd-client",
                                          "front-proxy-client", "kube-apiserver"})
NODE_CN_PREFIX: Final = "system:node:"
LOOPBACK_PREFIXES: Final = ("127.", "::1")
ESTABLISHED_STATES: Final = frozenset({"SF", "S1", "S2", "S3", "RSTO", "RSTR", "OTH"})


def rdn(subject: str | None, attr: str) -> list[str]:
    """RFC 4514 subject + attribute type (CN, O) → the attribute's values, unescaped."""
    if not subject:
        return []
    out: list[str] = []
    cur: list[str] = []
    esc = False
    parts: list[str] = []
    for ch in subject:
        if esc:
            cur.append(ch)
            esc = False
        elif ch == "\\":
            esc = True
        elif ch in ",+":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    for part in parts:
        k, sep, v = part.partition("=")
        if sep and k.strip().upper() in (attr.upper(), _OIDS.get(attr.upper(), "")):
            out.append(v.strip())
    return out


_OIDS: Final = {"CN": "2.5.4.3", "O": "2.5.4.10"}


@dataclass(slots=True)
class Request:
    """One HTTP/gRPC request in a flow, as far as the dissector saw it."""

    method: str | None = None
    path: str | None = None
    query: str | None = None
    host: str | None = None
    user_agent: str | None = None
    status: int | None = None
    upgrade: str | None = None
    stream_protocol: str | None = None
    forwarded_uri: str | None = None
    auth_kind: str | None = None
    status_reason: str | None = None
    grpc_method: str | None = None
    connect_target: str | None = None


@dataclass(slots=True)
class FlowFacts:
    """What tagging needs to know about one flow."""

    uid: str
    orig_h: str
    resp_h: str
    resp_p: int
    proto: str
    app_proto: str
    established: bool
    has_payload: bool
    """Either side sent transport payload."""
    duration: float
    burst_interval: float | None
    tls_version: str | None
    tls_alpn: str | None
    server_cn: str | None
    server_sans: str | None
    server_self_signed: bool | None
    client_cert_requested: bool | None
    client_cert_presented: bool | None
    client_cn: str | None
    client_orgs: list[str]
    requests: list[Request]
    tunnel_proto: str | None
    payload_hint: str | None
    tunnelled: bool
    tunnel_ends: tuple[str, ...] = ()
    """Outer addresses of the overlay tunnel that carried the flow (the nodes' addresses)."""
    flags: set[str] = field(default_factory=set)
    local_signals: list[tuple[str, str, str]] | None = None
    """(side, role, evidence) of the phase-1 role signals this flow matched (set by signals)."""

    @property
    def user_agents(self) -> list[str]:
        """Every User-Agent seen on the flow."""
        return [r.user_agent for r in self.requests if r.user_agent]

    @property
    def grpc_methods(self) -> list[str]:
        """Every gRPC method seen on the flow."""
        return [r.grpc_method for r in self.requests if r.grpc_method]

    @property
    def auth_kinds(self) -> set[str]:
        """Credential kinds presented in visible requests."""
        out: set[str] = set()
        for r in self.requests:
            if r.auth_kind:
                out.update(k.strip() for k in r.auth_kind.split(",") if k.strip())
        return out

    def kubelet_host(self) -> str | None:
        """host from a kubelet self-signed server certificate CN, else None."""
        m = KUBELET_SELF_SIGNED_CN.match(self.server_cn or "")
        return m.group("host") if m else None

    def node_from_client_cert(self) -> str | None:
        """node name from a client certificate CN system:node:<name>, else None."""
        cn = self.client_cn or ""
        return cn[len(NODE_CN_PREFIX):] if cn.startswith(NODE_CN_PREFIX) else None


def _s(v: Any) -> str | None:
    if schema.is_missing(v):
        return None
    s = str(v)
    return s if s else None


def _b(v: Any) -> bool | None:
    s = _s(v)
    if s is None:
        return None
    return bool(v)


def _i(v: Any) -> int | None:
    s = _s(v)
    if s is None:
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _f(v: Any) -> float | None:
    s = _s(v)
    if s is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def request_from(row: Mapping[str, Any], prefix: str = "") -> Request:
    """A http-table row (or the flow's http_* columns with prefix 'http_') → Request."""
    if prefix:
        return Request(
            method=_s(row.get("http_method")), path=_s(row.get("http_path")),
            query=_s(row.get("http_query")), host=_s(row.get("http_host")),
            user_agent=_s(row.get("http_user_agent")), status=_i(row.get("http_status")),
            upgrade=_s(row.get("http_upgrade")), stream_protocol=_s(row.get("http_stream_protocol")),
            forwarded_uri=_s(row.get("http_forwarded_uri")), auth_kind=_s(row.get("auth_kind")),
            status_reason=_s(row.get("k8s_status_reason")), grpc_method=_s(row.get("grpc_method")),
            connect_target=_s(row.get("connect_target")))
    return Request(
        method=_s(row.get("method")), path=_s(row.get("uri")), query=_s(row.get("query")),
        host=_s(row.get("host")), user_agent=_s(row.get("user_agent")),
        status=_i(row.get("status_code")), upgrade=_s(row.get("upgrade")),
        stream_protocol=_s(row.get("stream_protocol")), forwarded_uri=_s(row.get("x_forwarded_uri")),
        auth_kind=_s(row.get("auth_kind")), status_reason=_s(row.get("k8s_status_reason")),
        grpc_method=_s(row.get("grpc_method")), connect_target=_s(row.get("connect_target")))


def facts_from(row: Mapping[str, Any], http_rows: Iterable[Mapping[str, Any]] | None) -> FlowFacts:
    """A flow row (FLOW_BASE + FLOW_DISSECT) + its http-table rows → FlowFacts with flags set."""
    reqs = [request_from(r) for r in http_rows] if http_rows is not None else []
    first = request_from(row, "http_")
    if not reqs and any(v is not None for v in (first.method, first.path, first.grpc_method,
                                                 first.connect_target, first.status)):
        reqs = [first]
    elif reqs and first.grpc_method and not any(r.grpc_method for r in reqs):
        reqs[0].grpc_method = first.grpc_method
    client_subject = _s(row.get("client_cert_subject"))
    server_subject = _s(row.get("server_cert_subject"))
    cns = rdn(client_subject, "CN")
    scn = rdn(server_subject, "CN")
    conn_state = _s(row.get("conn_state")) or ""
    resp_bytes = _i(row.get("resp_bytes")) or 0
    orig_bytes = _i(row.get("orig_bytes")) or 0
    f = FlowFacts(
        uid=_s(row.get("uid")) or "",
        orig_h=_s(row.get("orig_h")) or "",
        resp_h=_s(row.get("resp_h")) or "",
        resp_p=_i(row.get("resp_p")) or 0,
        proto=(_s(row.get("proto")) or "").lower(),
        app_proto=(_s(row.get("app_proto")) or "unknown").lower(),
        established=conn_state in ESTABLISHED_STATES or resp_bytes > 0,
        has_payload=orig_bytes + resp_bytes > 0,
        duration=_f(row.get("duration")) or 0.0,
        burst_interval=_f(row.get("orig_burst_interval")),
        tls_version=_s(row.get("tls_version")),
        tls_alpn=_s(row.get("tls_alpn")),
        server_cn=scn[0] if scn else None,
        server_sans=_s(row.get("server_cert_sans")),
        server_self_signed=_b(row.get("server_cert_self_signed")),
        client_cert_requested=_b(row.get("client_cert_requested")),
        client_cert_presented=_b(row.get("client_cert_presented")),
        client_cn=cns[0] if cns else None,
        client_orgs=rdn(client_subject, "O"),
        requests=reqs,
        tunnel_proto=_s(row.get("tunnel_proto")),
        payload_hint=_s(row.get("payload_hint")),
        tunnelled=_s(row.get("tunnel")) is not None,
        tunnel_ends=tuple(x for x in (_s(row.get("tunnel_orig_h")), _s(row.get("tunnel_resp_h")))
                          if x is not None),
    )
    _set_flags(f)
    return f


def _set_flags(f: FlowFacts) -> None:
    fl = f.flags
    fl.add(f.proto or "unknown_transport")
    fl.add(f"app_{f.app_proto}")
    if f.established:
        fl.add("established")
    if f.orig_h.startswith(LOOPBACK_PREFIXES) and f.resp_h.startswith(LOOPBACK_PREFIXES):
        fl.add("loopback")
    if f.app_proto == "tls" or f.tls_version:
        fl.add("tls")
    if f.tls_version == "TLSv1.3":
        fl.add("tls13")
    if "h2" in (f.tls_alpn or "").split(","):
        fl.add("alpn_h2")
    sans = (f.server_sans or "").split(",")
    if f.server_cn == "kube-apiserver" or any(s.strip().removeprefix("DNS:") in P_APISERVER_SANS
                                              for s in sans):
        fl.add("apiserver_cert")
    if f.kubelet_host():
        fl.add("kubelet_cert")
    if f.node_from_client_cert():
        fl.add("node_client_cert")
    if f.client_cn in APISERVER_CLIENT_CNS:
        fl.add("apiserver_client_cert")
    if f.duration >= 30.0:
        fl.add("long_lived")
    if f.burst_interval is not None and abs(f.burst_interval - P.LEASE_INTERVAL_S) <= P.LEASE_TOLERANCE_S:
        fl.add("lease_cadence")
    for r in f.requests:
        path = r.path or ""
        if KUBE_API_PATH.match(path):
            fl.add("kube_api_path")
        if HEALTH_PATH.match(path):
            fl.add("health_path")
        if KUBELET_PATH.match(path):
            fl.add("kubelet_path")
        if r.status_reason or (r.status in (401, 403) and "kube_api_path" in fl):
            fl.add("k8s_status")
        if r.forwarded_uri and PROXY_URI.match(r.forwarded_uri):
            fl.add("proxy_forwarded")
        if PROXY_URI.match(path):
            fl.add("proxy_request")
        gm = r.grpc_method or ""
        if gm.startswith("/etcdserverpb."):
            fl.add("etcd_grpc")
        if gm.startswith(("/AgentService/", "/ProxyService/")):
            fl.add("konnectivity_grpc")
        if r.connect_target or (r.method or "").upper() == "CONNECT":
            fl.add("connect")
            port = (r.connect_target or "").rpartition(":")[2]
            if port in (str(P.KUBELET_PORT), str(P.KUBELET_READONLY_PORT)):
                fl.add("connect_to_kubelet")
        ua = (r.user_agent or "").lower()
        for prefix in ("kubelet/", "kube-proxy/", "kubectl/", "kube-scheduler/",
                       "kube-controller-manager/"):
            if ua.startswith(prefix):
                fl.add("ua_" + prefix[:-1].replace("-", "_"))
        if r.auth_kind:
            fl.add("credentials_visible")
    if "etcd-registry" in (f.payload_hint or ""):
        fl.add("etcd_payload")
    if f.app_proto in ("http", "http2", "grpc", "connect", "dns") and "tls" not in fl:
        fl.add("plaintext")
    if f.tunnelled:
        fl.add("overlay")


P_APISERVER_SANS: Final = frozenset(APISERVER_SANS) | {"kubernetes.default.svc.cluster.local"}
