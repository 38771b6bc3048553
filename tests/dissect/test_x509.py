"""X.509 facts with `cryptography`: names, SANs, validity, key, self-signed and kubelet style."""

from __future__ import annotations

import contextlib

import pytest

from classifier.dissect import x509
from classifier.dissect.facts import Malformed
from tests.dissect.certs import NOW, kubelet_pair, make_cert


def test_kubelet_self_signed_pair() -> None:
    leaf, ca = kubelet_pair("worker-7", 1712345678)
    li, ci = x509.parse(leaf), x509.parse(ca)
    assert li.common_name == "worker-7@1712345678"
    assert li.issuer == "CN=worker-7-ca@1712345678"
    assert li.kubelet_self_signed and ci.kubelet_self_signed
    assert not li.self_signed and ci.self_signed
    assert ci.is_ca and not li.is_ca
    assert li.sans == "worker-7"
    assert li.key_type == "EC:secp256r1" and li.key_bits == 256
    assert li.serial == "1234abcd"
    assert li.not_before == NOW
    assert li.fingerprint == x509.sha256_hex(leaf)


def test_ordinary_certificates_are_not_kubelet_style() -> None:
    ca, key = make_cert("kubernetes", ca=True, org="k8s")
    leaf, _ = make_cert("kube-apiserver", issuer_cn="kubernetes", issuer_key=key,
                        sans=["kubernetes.default.svc"])
    assert not x509.parse(leaf).kubelet_self_signed
    assert x509.parse(ca).self_signed and x509.parse(ca).organization == "k8s"
    # subject == issuer but signed by another key: not self-signed
    same_name, _ = make_cert("kubernetes", issuer_cn="kubernetes", issuer_key=key)
    assert x509.parse(same_name).self_signed is False
    other, _ = make_cert("x")
    impostor, _ = make_cert("y", issuer_cn="y", issuer_key=make_cert("z")[1])
    assert x509.parse(other).self_signed and not x509.parse(impostor).self_signed


def test_invalid_der_raises_malformed_and_every_prefix_too() -> None:
    leaf, _ = kubelet_pair()
    for i in range(0, len(leaf), 7):
        with pytest.raises(Malformed):
            x509.parse(leaf[:i])


def test_dn_to_rfc4514_matches_cryptography() -> None:
    from cryptography import x509 as cx

    ca, _ = make_cert("Sample, Root+CA", ca=True, org="Org")
    cert = cx.load_der_x509_certificate(ca)
    der = cert.subject.public_bytes()
    assert x509.dn_to_rfc4514(der) == cert.subject.rfc4514_string()
    for i in range(len(der)):
        with contextlib.suppress(Malformed):
            x509.dn_to_rfc4514(der[:i])


def test_cache_returns_same_object() -> None:
    leaf, _ = kubelet_pair("cache-node")
    assert x509.parse(leaf) is x509.parse(bytes(leaf))


def test_unknown_public_key_algorithm_parses_without_key_facts() -> None:
    der, _ = make_cert("odd-key")
    ec_oid = bytes.fromhex("06072a8648ce3d0201")  # id-ecPublicKey (RFC 5480)
    assert der.count(ec_oid) == 1
    info = x509.parse(der.replace(ec_oid, bytes.fromhex("06072a8648ce3d0263")))
    assert info.common_name == "odd-key"
    assert (info.key_type, info.key_bits) == (None, None)
