#!/usr/bin/env bash
# Installs the Debian packages the local cluster needs (idempotent; quick when all are present).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ipset: kube-router keeps NetworkPolicy peers in ipsets.
PACKAGES=(containerd runc containernetworking-plugins iptables iproute2 conntrack socat util-linux
  mmdebstrap openssl ca-certificates kmod ethtool iperf3 curl ipset)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then log "debian packages: all present"; exit 0; fi
log "debian packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The cluster's containerd is started by our scripts, never by the package's service.
systemctl disable --now containerd >/dev/null 2>&1 || true
