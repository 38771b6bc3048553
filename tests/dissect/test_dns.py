"""classifier.dissect.dns: DNS messages built by scapy (an independent encoder) are recognised
over UDP and TCP; headers and questions that are not DNS are not."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR

from classifier.dissect import dns
from classifier.dissect.facts import Malformed
from classifier.dissect.registry import choose

NAME = "kubernetes.default.svc.cluster.local"


def _query(**kw: object) -> bytes:
    fields = {"id": 0x1f2e, "rd": 1, "qd": DNSQR(qname=NAME, qtype="A")}
    fields.update(kw)
    return bytes(DNS(**fields))


def _answer() -> bytes:
    return bytes(DNS(id=0x1f2e, qr=1, aa=1, qd=DNSQR(qname=NAME, qtype="A"),
                     an=DNSRR(rrname=NAME, type="A", rdata="10.96.0.1")))


def _tcp(msg: bytes) -> bytes:
    return struct.pack("!H", len(msg)) + msg


@pytest.mark.parametrize("wrap", [bytes, _tcp], ids=["udp", "tcp"])
def test_queries_and_answers_are_dns(wrap: object) -> None:
    q, a = wrap(_query()), wrap(_answer())  # type: ignore[operator]
    assert dns.sniff(q) == dns.sniff(a) == 0.9
    assert dns.dissect_flow(q, a).flow == {"app_proto": "dns"}
    d, score = choose(q, a)
    assert d is not None and d.name == "dns" and score >= 0.9


@pytest.mark.parametrize("qclass", [1, 3, 4, 254, 255])
def test_every_question_class_kubewire_knows(qclass: int) -> None:
    assert dns.sniff(_query(qd=DNSQR(qname=NAME, qtype="TXT", qclass=qclass))) == 0.9


@pytest.mark.parametrize(("case", "msg"), [
    ("class 2 (CSNET is obsolete)", _query(qd=DNSQR(qname=NAME, qclass=2))),
    ("two questions", _query(qd=[DNSQR(qname=NAME), DNSQR(qname="a.b")])),
    ("no question", _query(qd=[], qdcount=0)),
    ("opcode 3 (unassigned)", _query(opcode=3)),
    ("Z bit set", _query(z=1)),
    ("cut inside the question", _query()[:-3]),
    ("header only", _query()[:12]),
    ("a label over 63 bytes", _query()[:12] + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01"),
    ("HTTP", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("TCP length shorter than a header", struct.pack("!H", 5) + _query()),
])
def test_what_is_not_dns(case: str, msg: bytes) -> None:
    assert dns.sniff(msg) == 0.0, case
    with pytest.raises(Malformed, match="dns_invalid"):
        dns.dissect_flow(msg, b"")


def test_either_direction_is_enough() -> None:
    """A capture that missed the query still names the answer's flow DNS."""
    assert dns.dissect_flow(b"", _answer()).flow["app_proto"] == "dns"
