"""The explicit list of analyzer rules; ids are stable once released and never reused."""

from __future__ import annotations

from typing import Final

from classifier.rules.anonymous_api_access import AnonymousApiAccess
from classifier.rules.base import Rule
from classifier.rules.credentials_in_plaintext import CredentialsInPlaintext
from classifier.rules.etcd_exposed_to_pods import EtcdExposedToPods
from classifier.rules.exec_over_plaintext import ExecOverPlaintext
from classifier.rules.insecure_component_port import InsecureComponentPort
from classifier.rules.konnectivity_plaintext import KonnectivityPlaintext
from classifier.rules.kubelet_readonly_port import KubeletReadonlyPort
from classifier.rules.kubelet_self_signed_cert import KubeletSelfSignedCert
from classifier.rules.legacy_tls import LegacyTls
from classifier.rules.plaintext_apiserver import PlaintextApiserver
from classifier.rules.plaintext_etcd import PlaintextEtcd
from classifier.rules.plaintext_proxy import PlaintextProxy
from classifier.rules.pod_to_kubelet import PodToKubelet
from classifier.rules.port_scan import PortScan
from classifier.rules.ssh_tunnel_deprecated import SshTunnelDeprecated
from classifier.rules.token_reuse import TokenReuse
from classifier.rules.unauth_etcd import UnauthEtcd
from classifier.rules.unauth_kubelet_access import UnauthKubeletAccess
from classifier.rules.unverified_tls_peer import UnverifiedTlsPeer

RULES: Final[tuple[Rule, ...]] = (
    PlaintextApiserver(),
    AnonymousApiAccess(),
    KubeletReadonlyPort(),
    UnauthKubeletAccess(),
    KubeletSelfSignedCert(),
    PlaintextProxy(),
    ExecOverPlaintext(),
    CredentialsInPlaintext(),
    PlaintextEtcd(),
    UnauthEtcd(),
    EtcdExposedToPods(),
    PodToKubelet(),
    PortScan(),
    TokenReuse(),
    SshTunnelDeprecated(),
    KonnectivityPlaintext(),
    LegacyTls(),
    InsecureComponentPort(),
    UnverifiedTlsPeer(),
)
"""Every rule evaluate() runs, in this order."""

RULES_BY_ID: Final = {r.id: r for r in RULES}
assert len(RULES_BY_ID) == len(RULES), "duplicate rule id"
