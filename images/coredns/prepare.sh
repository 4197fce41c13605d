#!/usr/bin/env bash
# CoreDNS, built from Go modules by scripts/cluster/build-binaries.sh, copied into $1.
set -euo pipefail
: "${BIN:?BIN, the binary cache, must be set}" "${COREDNS_VERSION:?}"
cp "$BIN/coredns-$COREDNS_VERSION" "$1/coredns"
