#!/usr/bin/env bash
# Stages the operator's files for its image into $1 (copied over the root filesystem as /app).
set -euo pipefail
stage=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bash scripts/node-deps.sh
npm run -s build
mkdir -p "$stage/app"
cp -r dist package.json package-lock.json "$stage/app/"
(cd "$stage/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
rm -rf "$stage/app/package-lock.json"
