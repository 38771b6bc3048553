"""LEGACY_TLS: TLS older than 1.2 or a weak cipher suite on a control-plane path."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Final

from classifier.rules.base import Context, Finding, Severity, by_subject, pair, val
from classifier.rules.evidence import flow_evidence

LEGACY_VERSIONS: Final = frozenset({"SSLv2", "SSLv3", "TLSv1.0", "TLSv1", "TLSv1.1"})
"""Versions deprecated by RFC 8996 (TLS 1.0/1.1) and RFC 7568 (SSLv3)."""

WEAK_CIPHER: Final = re.compile(r"(?i)(?:^|_)(?:NULL|EXPORT|anon|RC4|DES|3DES|DES40|MD5|IDEA)(?:_|$)")
"""Cipher-suite name parts that mean no encryption, export-grade, anonymous (no server
authentication), or broken algorithms (RFC 7465 RC4; RFC 8996 background; SWEET32 for 3DES)."""


class LegacyTls:
    """A control-plane connection negotiated TLS < 1.2 or a weak cipher suite.

    Kubernetes' own servers default to TLS 1.2 as the minimum (``MinVersion: tls.VersionTLS12``
    in k8s.io/apiserver secure_serving.go) and Go offers no RC4/3DES/export suites by
    default; a legacy version or weak suite means a component was configured down
    (``--tls-min-version``, ``--tls-cipher-suites``; CIS 1.2.30/4.2.12-style "strong
    cryptographic ciphers") or something else terminates TLS on the path.
    """

    id: ClassVar[str] = "LEGACY_TLS"
    severity: ClassVar[Severity] = Severity.MEDIUM
    title: ClassVar[str] = "Legacy TLS version or weak cipher on a control-plane path"
    references: ClassVar[tuple[str, ...]] = (
        "Kubernetes docs: kube-apiserver --tls-min-version / --tls-cipher-suites",
        "CIS 1.2.30 (apiserver strong ciphers)", "CIS 4.2.12 (kubelet strong ciphers)",
        "RFC 8996")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """Control-plane flows with a legacy version or weak cipher → one per host pair."""
        cp = ctx.control_plane
        ver = cp["tls_version"].astype("string")
        cipher = cp["tls_cipher"].astype("string").fillna("")
        weak = ver.isin(list(LEGACY_VERSIONS)).fillna(False).astype(bool) | cipher.str.contains(
            WEAK_CIPHER).fillna(False).astype(bool)
        sel = cp[weak]

        def evidence(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
            why = []
            if val(row, "tls_version") in LEGACY_VERSIONS:
                why.append(f"version {val(row, 'tls_version')}")
            if WEAK_CIPHER.search(str(val(row, "tls_cipher") or "")):
                why.append(f"cipher {val(row, 'tls_cipher')}")
            yield flow_evidence(row, "path", "tls_version", "tls_cipher", "sni",
                                "server_cert_subject", why=", ".join(why))

        return by_subject(sel, pair, evidence)
