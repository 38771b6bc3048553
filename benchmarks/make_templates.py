"""Record real TLS handshakes (Python ssl / OpenSSL, in memory) as byte templates for the generator.

Run once; the output (benchmarks/templates/tls.json) is committed so that generate.py is
deterministic. Each template is a list of flights ``[direction, base64 bytes]`` where direction 0
is client→server. Private keys live only in memory while this runs; certificates are public.

    .venv/bin/python benchmarks/make_templates.py
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import json
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OUT = Path(__file__).resolve().parent / "templates" / "tls.json"
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Spec:
    """One handshake to record: who serves, who asks, which TLS version and ALPN."""

    name: str
    sni: str | None
    alpn: list[str]
    tls13: bool
    mtls: bool
    server_cn: str
    sans: list[str]
    client_cn: str = ""
    client_org: str = ""


SPECS = [
    Spec("apiserver_kubelet_h2_tls13", "kubernetes.default.svc", ["h2", "http/1.1"], True, True,
         "kube-apiserver", ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
                            "kubernetes.default.svc.cluster.local", "10.96.0.1", "10.0.0.10"],
         "system:node:worker-1", "system:nodes"),
    Spec("apiserver_sa_h2_tls12", "kubernetes.default.svc", ["h2", "http/1.1"], False, False,
         "kube-apiserver", ["kubernetes", "kubernetes.default.svc", "10.96.0.1", "10.0.0.10"]),
    Spec("apiserver_mtls_tls12", "10.0.0.10", ["h2"], False, True,
         "kube-apiserver", ["kubernetes", "10.0.0.10"],
         "system:kube-controller-manager", ""),
    Spec("etcd_grpc_mtls_tls12", "127.0.0.1", ["h2"], False, True,
         "etcd-control-plane-1", ["localhost", "control-plane-1", "127.0.0.1", "10.0.0.10"],
         "kube-apiserver-etcd-client", "system:masters"),
    Spec("etcd_peer_tls13", "10.0.0.11", [], True, True,
         "etcd-control-plane-2", ["control-plane-2", "10.0.0.11"], "etcd-control-plane-1", ""),
    Spec("kubelet_serving_tls12", None, ["http/1.1"], False, True,
         "worker-1@1760000000", ["worker-1", "10.0.0.21"],
         "kube-apiserver-kubelet-client", "kubeadm:cluster-admins"),
    Spec("kubelet_metrics_tls13", "10.0.0.22", ["http/1.1"], True, False,
         "worker-2@1760000000", ["worker-2", "10.0.0.22"]),
    Spec("konnectivity_tls12", "konnectivity-server", ["h2"], False, False,
         "konnectivity-server", ["konnectivity-server", "10.0.0.10"]),
]


def _name(cn: str, org: str = "") -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _cert(subject: x509.Name, key: object, issuer: x509.Name, issuer_key: object, *,
          ca: bool, sans: list[str], client: bool, serial: int) -> x509.Certificate:
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(key.public_key())  # type: ignore[attr-defined]
         .serial_number(serial).not_valid_before(NOW - dt.timedelta(days=30))
         .not_valid_after(NOW + dt.timedelta(days=365 if not ca else 3650))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        names: list[x509.GeneralName] = []
        for s in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(s)))
            except ValueError:
                names.append(x509.DNSName(s))
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if not ca:
        eku = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        b = b.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]


def _pem(path: Path, cert: x509.Certificate, key: object) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def record(spec: Spec, tmp: Path, serial: int) -> list[list[object]]:
    """Run one in-memory handshake (plus one tiny app-data exchange) → its flights."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = _name("etcd-ca" if spec.name.startswith("etcd") else "kubernetes")
    ca = _cert(ca_name, ca_key, ca_name, ca_key, ca=True, sans=[], client=False, serial=serial)
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv = _cert(_name(spec.server_cn), srv_key, ca_name, ca_key, ca=False, sans=spec.sans,
                client=False, serial=serial + 1)
    (tmp / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    _pem(tmp / "srv.pem", srv, srv_key)
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(tmp / "srv.pem")
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(tmp / "ca.pem")
    cctx.check_hostname = False
    version = ssl.TLSVersion.TLSv1_3 if spec.tls13 else ssl.TLSVersion.TLSv1_2
    for ctx in (sctx, cctx):
        ctx.maximum_version = version
    if spec.alpn:
        sctx.set_alpn_protocols(spec.alpn)
        cctx.set_alpn_protocols(spec.alpn)
    if spec.mtls:
        sctx.verify_mode = ssl.CERT_REQUIRED
        sctx.load_verify_locations(tmp / "ca.pem")
        cli_key = ec.generate_private_key(ec.SECP256R1())
        cli = _cert(_name(spec.client_cn, spec.client_org), cli_key, ca_name, ca_key, ca=False,
                    sans=[], client=True, serial=serial + 2)
        _pem(tmp / "cli.pem", cli, cli_key)
        cctx.load_cert_chain(tmp / "cli.pem")
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = cctx.wrap_bio(c_in, c_out, server_side=False, server_hostname=spec.sni)
    server = sctx.wrap_bio(s_in, s_out, server_side=True)
    flights: list[list[object]] = []
    done = [False, False]

    def step(obj: ssl.SSLObject, i: int) -> None:
        if done[i]:
            return
        try:
            obj.do_handshake()
            done[i] = True
        except ssl.SSLWantReadError:
            pass

    for _ in range(10):
        step(client, 0)
        data = c_out.read()
        if data:
            flights.append([0, data])
            s_in.write(data)
        step(server, 1)
        data = s_out.read()
        if data:
            flights.append([1, data])
            c_in.write(data)
        if all(done):
            break
    # One request/response so TLS 1.3 session tickets are flushed.
    client.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    s_in.write(c_out.read())
    with contextlib.suppress(ssl.SSLWantReadError):
        server.read(4096)
    server.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    out = s_out.read()
    c_in.write(out)
    client.read(4096)
    # Keep handshake flights only (drop the app-data exchange, which the generator synthesizes),
    # but keep tickets the server sent after the client's Finished (TLS 1.3).
    merged: list[list[object]] = []
    for d, b in flights:
        if merged and merged[-1][0] == d:
            merged[-1][1] += b  # type: ignore[operator]
        else:
            merged.append([d, b])
    assert client.version() == ("TLSv1.3" if spec.tls13 else "TLSv1.2"), client.version()
    return [[d, base64.b64encode(b).decode()] for d, b in merged]  # type: ignore[arg-type]


def main() -> None:
    """Record every spec → benchmarks/templates/tls.json."""
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as t:
        for i, spec in enumerate(SPECS):
            out[spec.name] = {"sni": spec.sni, "alpn": spec.alpn, "tls13": spec.tls13,
                              "mtls": spec.mtls, "flights": record(spec, Path(t), 1000 + 10 * i)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(out)} handshakes)")


if __name__ == "__main__":
    main()
