#!/usr/bin/env bash
# npm run bench: cluster up, operator deployed from this tree, the plugin compiled, then bench/run.ts.
source "$(dirname "$0")/cluster/lib.sh"
cd "$ROOT"
bash scripts/node-deps.sh
bash scripts/cluster/up.sh
bash scripts/deploy.sh
npm run -s build
KUBECONFIG="$KUBECONFIG_OUT" npx tsx bench/run.ts
KUBECONFIG="$KUBECONFIG_OUT" npx tsx bench/startup.ts
KUBECONFIG="$KUBECONFIG_OUT" npx tsx bench/scale.ts
