"""kubeadm-shaped PKI for the capture lab: cluster CA → serving/client certs as PEM files.

Subjects, SANs and usages follow kubeadm (cmd/kubeadm/app/phases/certs/certlist.go,
pkiutil.GetAPIServerAltNames) and the kubelet's self-signed serving pair
(client-go util/cert.GenerateSelfSignedCertKeyWithFixtures: `<host>@<ts>` issued by
`<host>-ca@<ts>`, serial 2 / 1, NotBefore now-1h).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Fixed epoch so regenerated captures carry the same validity windows and kubelet CNs.
EPOCH = dt.datetime(2026, 11, 27, 22, 0, 0, tzinfo=dt.UTC)
KUBELET_TS = int(EPOCH.timestamp())

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class Pair:
    """PEM paths of one certificate (chain file may hold leaf + issuer) and its key."""

    cert: Path
    key: Path


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _key(kind: str) -> PrivateKey:
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _sans(names: tuple[str, ...]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for n in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return out


class Authority:
    """A CA that writes certificates into `folder`."""

    def __init__(self, folder: Path, cn: str, *, serial: int | None = None,
                 not_before: dt.datetime | None = None, years: int = 10) -> None:
        self.folder = folder
        self.cn = cn
        self.key: PrivateKey = _key("rsa")
        nb = not_before or EPOCH - dt.timedelta(minutes=5)
        builder = (x509.CertificateBuilder()
                   .subject_name(_name(cn)).issuer_name(_name(cn))
                   .public_key(self.key.public_key())
                   .serial_number(serial or x509.random_serial_number())
                   .not_valid_before(nb).not_valid_after(nb + dt.timedelta(days=365 * years))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(True, False, True, False, False, True, False, False,
                                                False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()),
                                  critical=False))
        self.cert = builder.sign(self.key, hashes.SHA256())
        folder.mkdir(parents=True, exist_ok=True)
        self.pem = folder / f"{_file(cn)}.crt"
        self.pem.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, stem: str, cn: str, *, orgs: tuple[str, ...] = (), sans: tuple[str, ...] = (),
              server: bool = False, client: bool = False, serial: int | None = None,
              not_before: dt.datetime | None = None, with_chain: bool = False) -> Pair:
        """Sign a leaf; write `<stem>.crt` (leaf, plus the CA when with_chain) and `<stem>.key`."""
        key = _key("rsa")
        nb = not_before or EPOCH - dt.timedelta(minutes=5)
        usages = []
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        if client:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        b = (x509.CertificateBuilder()
             .subject_name(_name(cn, orgs)).issuer_name(self.cert.subject)
             .public_key(key.public_key())
             .serial_number(serial or x509.random_serial_number())
             .not_valid_before(nb).not_valid_after(nb + dt.timedelta(days=365))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False),
                            critical=True)
             .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                            critical=False))
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(_sans(sans)), critical=False)
        cert = b.sign(self.key, hashes.SHA256())
        pem = cert.public_bytes(serialization.Encoding.PEM)
        if with_chain:
            pem += self.cert.public_bytes(serialization.Encoding.PEM)
        crt, kf = self.folder / f"{stem}.crt", self.folder / f"{stem}.key"
        crt.write_bytes(pem)
        kf.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.TraditionalOpenSSL,
                                         serialization.NoEncryption()))
        return Pair(crt, kf)


def _file(cn: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in cn)


@dataclass(frozen=True, slots=True)
class ClusterPKI:
    """Every certificate the lab's components present (paths), plus the token secrets."""

    ca: Path
    etcd_ca: Path
    apiserver: Pair
    apiserver_kubelet_client: Pair
    apiserver_etcd_client: Pair
    admin: Pair
    node_client: dict[str, Pair]
    kubelet_serving: dict[str, Pair]
    etcd_server: dict[str, Pair]
    etcd_peer: dict[str, Pair]
    konnectivity_agent_ca: Path


def build(folder: Path, *, apiserver_ips: tuple[str, ...], nodes: dict[str, str],
          etcd_members: dict[str, str], kubelet_self_signed: bool = True,
          service_vip: str = "10.96.0.1", cp_name: str = "cp-1") -> ClusterPKI:
    """Write a kubeadm-like PKI under `folder` for the given node name → IP maps."""
    ca = Authority(folder, "kubernetes")
    etcd_ca = Authority(folder, "etcd-ca")
    api_sans = (cp_name, "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local", service_vip, *apiserver_ips)
    apiserver = ca.issue("apiserver", "kube-apiserver", sans=api_sans, server=True)
    kc = ca.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client",
                  orgs=("kubeadm:cluster-admins",), client=True)
    ec_ = etcd_ca.issue("apiserver-etcd-client", "kube-apiserver-etcd-client", client=True)
    admin = ca.issue("admin", "kubernetes-admin", orgs=("kubeadm:cluster-admins",), client=True)
    node_client = {n: ca.issue(f"kubelet-client-{n}", f"system:node:{n}", orgs=("system:nodes",),
                               client=True) for n in nodes}
    serving: dict[str, Pair] = {}
    for n, ip in nodes.items():
        if kubelet_self_signed:
            # client-go cert.GenerateSelfSignedCertKeyWithFixtures: CA serial 1, leaf serial 2,
            # NotBefore = now - 1h, validity 1 year; the chain file carries leaf + CA.
            nb = EPOCH - dt.timedelta(hours=1)
            kca = Authority(folder / f"kubelet-{n}", f"{n}-ca@{KUBELET_TS}", serial=1,
                            not_before=nb, years=1)
            serving[n] = kca.issue(f"kubelet-{n}", f"{n}@{KUBELET_TS}", sans=(n,), server=True,
                                   serial=2, not_before=nb, with_chain=True)
        else:
            # serverTLSBootstrap: CSR CN=system:node:<n>, O=system:nodes, signed by the cluster CA.
            serving[n] = ca.issue(f"kubelet-serving-{n}", f"system:node:{n}",
                                  orgs=("system:nodes",), sans=(n, ip), server=True)
    etcd_server = {m: etcd_ca.issue(f"etcd-server-{m}", m, sans=(m, "localhost", ip, "127.0.0.1"),
                                    server=True, client=True) for m, ip in etcd_members.items()}
    etcd_peer = {m: etcd_ca.issue(f"etcd-peer-{m}", m, sans=(m, "localhost", ip, "127.0.0.1"),
                                  server=True, client=True) for m, ip in etcd_members.items()}
    return ClusterPKI(ca=ca.pem, etcd_ca=etcd_ca.pem, apiserver=apiserver,
                      apiserver_kubelet_client=kc, apiserver_etcd_client=ec_, admin=admin,
                      node_client=node_client, kubelet_serving=serving, etcd_server=etcd_server,
                      etcd_peer=etcd_peer, konnectivity_agent_ca=ca.pem)
