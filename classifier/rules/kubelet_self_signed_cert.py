"""KUBELET_SELF_SIGNED_CERT: the kubelet serves its self-generated '<host>@<ts>' certificate."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Final

import pandas as pd

from classifier.rules.base import (
    DOC_CPNC,
    KUBELET_PATHS,
    Context,
    Finding,
    Severity,
    by_subject,
    endpoint,
    flag,
    on_paths,
)
from classifier.rules.evidence import flow_evidence

KUBELET_CN: Final = re.compile(r"(?:^|,)\s*CN=[^,@]+@\d+(?:,|$)")
"""kubelet GenerateSelfSignedCertKey: leaf CN '<hostname>@<unix-seconds>', issuer
'<hostname>-ca@<unix-seconds>' (cmd/kubelet/app/server.go InitializeTLS)."""


class KubeletSelfSignedCert:
    """The kubelet presented the self-signed ``<host>@<timestamp>`` serving certificate it
    generates when neither ``--tls-cert-file`` nor ``serverTLSBootstrap`` is configured.

    No CA vouches for it, so the apiserver cannot be verifying the kubelet it talks to:
    "By default, the apiserver does not verify the kubelet's serving certificate, which makes
    the connection subject to man-in-the-middle attacks, and unsafe to run over untrusted
    and/or public networks" (Control Plane-Node Communication). Fix: kubelet serving
    certificates signed by the cluster CA (``serverTLSBootstrap`` + approved CSRs, CIS 4.2.9–
    4.2.11) and ``--kubelet-certificate-authority`` on the apiserver (CIS 1.2.5).
    Visible only when the certificate travels in clear (TLS ≤ 1.2).
    """

    id: ClassVar[str] = "KUBELET_SELF_SIGNED_CERT"
    severity: ClassVar[Severity] = Severity.MEDIUM
    title: ClassVar[str] = "Kubelet serves a self-signed certificate (apiserver cannot verify it)"
    references: ClassVar[tuple[str, ...]] = (
        f"{DOC_CPNC} §API server to kubelet", "CIS 1.2.5", "CIS 4.2.9", "CIS 4.2.10",
        "CIS 4.2.11")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """Kubelet-API flows whose server certificate is kubelet-self-signed → one per kubelet."""
        f = ctx.flows
        sel = f[on_paths(f, KUBELET_PATHS)]
        kubelet_fps = _kubelet_fingerprints(ctx.certificates)
        fp = sel["server_cert_fingerprint"].astype("string").str.lower()
        by_table = fp.isin(list(kubelet_fps)).fillna(False).astype(bool)
        subj = sel["server_cert_subject"].astype("string").fillna("")
        by_name = subj.str.contains(KUBELET_CN).fillna(False).astype(bool) & flag(
            sel, "server_cert_self_signed")
        chosen = sel[by_table | by_name]

        def evidence(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
            yield flow_evidence(row, "path", "client_role", "server_name", "tls_version",
                                "server_cert_subject", "server_cert_issuer",
                                fingerprint=row.get("server_cert_fingerprint"))

        return by_subject(chosen, endpoint, evidence)


def _kubelet_fingerprints(certs: pd.DataFrame) -> set[str]:
    if certs.empty:
        return set()
    ks = certs[flag(certs, "kubelet_self_signed")]
    return {str(x).lower() for x in ks["fingerprint"].dropna()}
