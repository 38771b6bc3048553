"""SSH_TUNNEL_DEPRECATED: apiserver → node SSH tunnels."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from classifier.rules.base import (
    DOC_CPNC,
    Context,
    Finding,
    Severity,
    by_subject,
    on_paths,
    pair,
)
from classifier.rules.evidence import flow_evidence


class SshTunnelDeprecated:
    """The apiserver opened an SSH tunnel to a node.

    "Kubernetes supports SSH tunnels to protect the control plane to nodes communication
    paths. … SSH tunnels are currently deprecated, so you shouldn't opt to use them unless you
    know what you are doing. The Konnectivity service is a replacement for this communication
    channel." (Control Plane-Node Communication, SSH tunnels). The ``--ssh-user`` /
    ``--ssh-keyfile`` flags were deprecated in 1.9 and removed in 1.22 (kubernetes PR
    #102297); a cluster still doing this runs an unsupported, GCE-only mechanism.
    """

    id: ClassVar[str] = "SSH_TUNNEL_DEPRECATED"
    severity: ClassVar[Severity] = Severity.LOW
    title: ClassVar[str] = "Deprecated apiserver→node SSH tunnel"
    references: ClassVar[tuple[str, ...]] = (f"{DOC_CPNC} §SSH tunnels",)

    def check(self, ctx: Context) -> Iterable[Finding]:
        """ssh-tunnel flows → one finding per host pair."""
        f = ctx.flows
        sel = f[on_paths(f, ["ssh-tunnel"])]

        def evidence(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
            yield flow_evidence(row, "client_role", "server_name", "ssh_client", "ssh_server",
                                "conn_state")

        return by_subject(sel, pair, evidence)
