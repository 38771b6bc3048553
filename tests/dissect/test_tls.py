"""TLS dissector: tshark as the oracle on real captures, plus unit cases and record edge cases."""

from __future__ import annotations

import hashlib

import pytest

from classifier.dissect import tls
from classifier.dissect.facts import Malformed
from classifier.dissect.tls_hello import ClientHello, ja4, parse_client_hello
from tests.conftest import zoo_capture
from tests.dissect.oracle import by_key, dissected, tshark_rows

TLS_CAPTURES = [
    "zeek/client-certificate.pcap",                       # mutual TLS 1.2
    "suricata-verify/tls-store-02__tls-client-auth.pcap",  # mutual TLS 1.2, IPv6, NULL link
    "zeek/certificate-request-failed.pcap",
    "zeek/tls1.2.pcap",
    "zeek/tls13_wolfssl.pcap",                            # TLS 1.3
    "zeek/openjdk-25.0.2-zeek.org.pcap",                  # TLS 1.3, SLL2
    "zeek/geneve-47101.pcap",
]
VERSIONS = {"0x0301": "TLSv1.0", "0x0302": "TLSv1.1", "0x0303": "TLSv1.2", "0x0304": "TLSv1.3"}


@pytest.mark.parametrize("name", TLS_CAPTURES)
def test_sni_version_cipher_match_tshark(tshark: str, name: str) -> None:
    cap = zoo_capture(name)
    flows = by_key(dissected(cap))
    sni = {k: v[0] for k, v in tshark_rows(cap, ["tls.handshake.extensions_server_name"],
                                            "tls.handshake.type == 1")}
    assert sni, "tshark saw no ClientHello"
    for key, value in sni.items():
        assert flows[key][0]["tls_sni"] == (value or None) or (
            not value and flows[key][0]["tls_sni"] is None), key
    for key, (sv, cipher) in tshark_rows(
            cap, ["tls.handshake.extensions.supported_version", "tls.handshake.ciphersuite"],
            "tls.handshake.type == 2"):
        row = flows[key][0]
        if not sv:
            sv = tshark_rows(cap, ["tls.handshake.version"], "tls.handshake.type == 2")[0][1][0]
        assert row["tls_version"] == VERSIONS[sv.split("|")[-1]]
        code = int(cipher, 16)
        assert row["tls_cipher"] == tls.cipher_name(code) or row["tls_cipher"].endswith(
            f"{code:04x}")
        assert row["app_proto"] == "tls"


@pytest.mark.parametrize("name", TLS_CAPTURES)
def test_certificate_chain_bytes_match_tshark(tshark: str, name: str) -> None:
    """The DER certificates we reassemble across records are byte-identical to tshark's."""
    cap = zoo_capture(name)
    d = dissected(cap)
    tls_rows = by_key(d, "tls")
    for key, (types, certs) in tshark_rows(cap, ["tls.handshake.type", "tls.handshake.certificate"],
                                           "tls.handshake.type == 11"):
        if not certs:
            continue
        fps = [hashlib.sha256(bytes.fromhex(c.replace(":", ""))).hexdigest()
               for c in certs.split("|")]
        row = tls_rows[key][0]
        ours = (row["cert_chain_fps"] or "").split(",") + (row["client_cert_chain_fps"] or "").split(",")
        assert set(fps) <= set(ours), (key, types)
        known = set(d.certificates["fingerprint"])
        assert set(fps) <= known


@pytest.mark.parametrize("name", ["zeek/client-certificate.pcap",
                                  "suricata-verify/tls-store-02__tls-client-auth.pcap"])
def test_mutual_tls_subjects_issuers_match_tshark(tshark: str, name: str) -> None:
    cap = zoo_capture(name)
    d = dissected(cap)
    flow = d.flows.iloc[0]
    assert flow["client_cert_requested"] is True or bool(flow["client_cert_requested"])
    assert bool(flow["client_cert_presented"])
    assert flow["client_cert_subject"]
    # every name attribute tshark decodes appears in our subject/issuer strings
    values: set[str] = set()
    for _, (ps, us) in tshark_rows(cap, ["x509sat.printableString", "x509sat.uTF8String"],
                                   "tls.handshake.type == 11"):
        values |= {v for v in (ps + "|" + us).split("|") if v}
    ours = " ".join(list(d.certificates["subject"]) + list(d.certificates["issuer"]))
    ours = ours.replace("\\", "")
    assert values and all(v in ours for v in values), values
    seen = dict(zip(d.certificates["subject"], d.certificates["seen_as"], strict=True))
    assert seen[flow["client_cert_subject"]] == "client"
    assert seen[flow["server_cert_subject"]] == "server"


def test_handshake_message_types_match_tshark(tshark: str) -> None:
    """Plaintext handshake types we walk equal the ones tshark dissects (before encryption)."""
    cap = zoo_capture("zeek/client-certificate.pcap")
    from tests.dissect.streams import tcp_streams

    s = tcp_streams(cap)[0]
    ours = [t for t, _ in tls.handshake_messages(tls.scan(s.data0).hs)[0]]
    ours += [t for t, _ in tls.handshake_messages(tls.scan(s.data1).hs)[0]]
    theirs: list[int] = []
    for _, (types,) in tshark_rows(cap, ["tls.handshake.type"], "tls.handshake.type"):
        theirs += [int(t) for t in types.split("|") if t]
    # tshark also labels encrypted Finished messages it cannot read; ours are the readable ones
    assert sorted(ours) == sorted(t for t in theirs if t != 20) or set(ours) <= set(theirs)
    assert {1, 2, 11, 13, 14, 16, 15} <= set(ours)


def test_sni_where_tshark_marks_the_hello_a_retransmission() -> None:
    """curl-user.pcapng: tshark calls the ClientHello a spurious retransmission; SOURCES.md
    documents TLS to kernel.org:443."""
    d = dissected(zoo_capture("ptcpdump/curl-user.pcapng"))
    assert set(d.flows["tls_sni"].dropna()) == {"kernel.org"}


def test_tls13_says_what_is_hidden() -> None:
    d = dissected(zoo_capture("zeek/tls13_wolfssl.pcap"))
    row = d.flows.iloc[0]
    assert row["tls_version"] == "TLSv1.3"
    assert "server_certificate" in row["tls_hidden"]
    assert row["server_cert_subject"] is None or row["server_cert_subject"] is pd_na()
    assert len(d.certificates) == 0


def pd_na() -> object:
    import pandas as pd

    return pd.NA


# --- unit cases -------------------------------------------------------------------------------

def _record(ctype: int, payload: bytes, version: int = 0x0303) -> bytes:
    return bytes([ctype]) + version.to_bytes(2, "big") + len(payload).to_bytes(2, "big") + payload


def _hs(mtype: int, body: bytes) -> bytes:
    return bytes([mtype]) + len(body).to_bytes(3, "big") + body


def _client_hello(sni: bytes = b"kubernetes.default.svc") -> bytes:
    sni_ext = (0).to_bytes(2, "big") + (len(sni) + 5).to_bytes(2, "big") + (len(sni) + 3).to_bytes(
        2, "big") + b"\x00" + len(sni).to_bytes(2, "big") + sni
    alpn = b"\x02h2\x08http/1.1"
    alpn_ext = (16).to_bytes(2, "big") + (len(alpn) + 2).to_bytes(2, "big") + len(alpn).to_bytes(
        2, "big") + alpn
    sv = b"\x00\x2b\x00\x05\x04\x03\x04\x03\x03"
    exts = sni_ext + alpn_ext + sv
    body = (b"\x03\x03" + b"\x11" * 32 + b"\x00" + b"\x00\x04\x13\x01\xc0\x2f" + b"\x01\x00"
            + len(exts).to_bytes(2, "big") + exts)
    return _hs(1, body)


def test_client_hello_split_across_records() -> None:
    ch = _client_hello()
    data = _record(22, ch[:10]) + _record(22, ch[10:])
    facts = tls.dissect_flow(data, b"")
    assert facts.flow["tls_sni"] == "kubernetes.default.svc"
    assert facts.flow["tls_alpn"] == "h2,http/1.1"
    assert facts.tls[0]["client_versions"] == "TLSv1.3,TLSv1.2"


def test_every_prefix_is_incomplete_or_clean() -> None:
    data = _record(22, _client_hello())
    for i in range(len(data)):
        if i >= 5:
            assert tls.parse_record(data[:i]) is None
        facts = tls.dissect_flow(data[:i], b"")
        assert facts.flow["app_proto"] == "tls"
    assert tls.parse_record(data) is not None


def test_invalid_record_raises_malformed() -> None:
    with pytest.raises(Malformed) as exc:
        tls.parse_record(b"\x63\x03\x03\x00\x01\x00")
    assert exc.value.reason == "tls_bad_content_type"
    with pytest.raises(Malformed):
        tls.parse_record(b"\x16\x03\x03\xff\xff")


def test_alert_and_reversed_roles() -> None:
    ch = _record(22, _client_hello())
    alert = _record(21, b"\x02\x28")
    facts = tls.dissect_flow(ch, alert)
    assert facts.flow["tls_alert"] == "fatal:handshake_failure"
    assert tls.reversed_roles(alert, ch)
    assert not tls.reversed_roles(ch, alert)


def test_ja4_shape_and_grease_ignored() -> None:
    body = _client_hello()[4:]
    ch = parse_client_hello(body)
    fp = ja4(ch)
    assert fp.startswith("t13d0203h2_")
    grease = ClientHello(legacy_version=0x0303, ciphers=[0x0A0A, *ch.ciphers],
                         extensions=[0x1A1A, *ch.extensions], sni=ch.sni, alpn=ch.alpn,
                         versions=[0x2A2A, *ch.versions])
    assert ja4(grease) == fp
