#!/usr/bin/env bash
# Installs the project's node dependencies (npm ci) unless node_modules already matches
# package-lock.json. `npm run demo`, `npm test` and `npm run bench` start here, so a fresh clone
# needs nothing run before them. A failed install leaves no stamp, so the next run installs again.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.installed-from-lock
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
echo "node dependencies: npm ci (package-lock.json changed or nothing installed yet)" >&2
rm -f "$stamp"
npm ci --no-audit --no-fund --loglevel=error
echo "$want" >"$stamp"
