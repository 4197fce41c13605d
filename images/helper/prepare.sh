#!/usr/bin/env bash
# pf-relay, the splice data path's relay (static, standard library only), compiled into $1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1/usr/local/bin"
cd "$here/relay"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$1/usr/local/bin/pf-relay" .
