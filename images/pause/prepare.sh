#!/usr/bin/env bash
# The pod sandbox's one static binary, built from scripts/cluster/gobuild/pause into $1.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root/scripts/cluster/gobuild/pause"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$1/pause" .
