"""Kubernetes payload hints in plaintext bytes: protobuf magic and etcd keys."""

from __future__ import annotations

from typing import Final

# staging/src/k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go: protoEncodingPrefix
K8S_PROTOBUF_MAGIC: Final = b"k8s\x00"
# pkg/kubeapiserver/options: DefaultEtcdPathPrefix = "/registry"
ETCD_PREFIX: Final = b"/registry/"
# encryption at rest: values start with "k8s:enc:<provider>:v1:<key>:"
# (staging/src/k8s.io/apiserver/pkg/storage/value/encrypt/...)
ENCRYPTED_PREFIX: Final = b"k8s:enc:"

HINTS: Final = (
    ("k8s-protobuf", K8S_PROTOBUF_MAGIC),
    ("etcd-registry", ETCD_PREFIX),
    ("k8s-encrypted-at-rest", ENCRYPTED_PREFIX),
)


def hints(*chunks: bytes | bytearray) -> list[str]:
    """Plaintext byte chunks → hint names found in any of them, in HINTS order."""
    found: list[str] = []
    for c in chunks:
        if c:
            found.extend(name for name, magic in HINTS if magic in c and name not in found)
    return [name for name, _ in HINTS if name in found]


def join(found: list[str]) -> str | None:
    """Hint names → the payload_hint column value (None when there are none)."""
    return ",".join(dict.fromkeys(found)) or None
