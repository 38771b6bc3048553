from __future__ import annotations

from classifier.rules.ssh_tunnel_deprecated import SshTunnelDeprecated
from tests.rules.frames import flow, run

R = SshTunnelDeprecated()


def test_apiserver_ssh_tunnel_is_flagged() -> None:
    f = flow(path="ssh-tunnel", client_role="apiserver", resp_p=22, ssh_client="SSH-2.0-Go",
             ssh_server="SSH-2.0-OpenSSH_9.2p1")
    row = run(R, [f]).iloc[0]
    assert row["severity"] == "low" and row["evidence"][0]["ssh_server"].startswith("SSH-2.0")


def test_other_ssh_is_not_flagged() -> None:
    assert run(R, [flow(path="other", resp_p=22, ssh_client="SSH-2.0-OpenSSH_7.4")]).empty
