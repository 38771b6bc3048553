#!/usr/bin/env bash
# Install the system tools kubewire's tests and capture lab need, when missing.
# tshark: the independent oracle; tcpdump, etcd, sshd, kubectl, iproute2: the capture lab;
# chromium: rendering the HTML report in tests; gcc + Python headers: the ahead-of-time kernels.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have tshark     || need+=(tshark)
have tcpdump    || need+=(tcpdump)
have chromium   || need+=(chromium)
have etcd       || need+=(etcd-server)
have etcdctl    || need+=(etcd-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
have ssh        || need+=(openssh-client)
have kubectl    || need+=(kubernetes-client)
have ip         || need+=(iproute2)
have curl       || need+=(curl)
[ -x /usr/bin/time ] || need+=(time)
have nft        || need+=(nftables)
have dig        || need+=(dnsutils)
have openssl    || need+=(openssl)
have mergecap   || need+=(wireshark-common)
have gcc        || need+=(gcc)
pyinc=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null || true)
[ -n "$pyinc" ] && [ -f "$pyinc/Python.h" ] || need+=(python3-dev)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "sysdeps: missing ${need[*]}; not root, so not installing (tests needing them will skip)" >&2
  exit 0
fi
echo "sysdeps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
