#!/usr/bin/env bash
# npm test: unit tests, then end-to-end tests against the local cluster. Brings the cluster up
# when it is not, and takes down again what it brought up, so the machine is left as it was.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/cluster/lib.sh

bash scripts/node-deps.sh
npm run -s typecheck
npm run -s test:unit
(cd images/helper/relay && CGO_ENABLED=0 go test ./...) # the helper's relay, as root: it makes network namespaces; no cgo, as in the image (AllThreadsSyscall needs it)

brought_up=false
if ! bash scripts/cluster/status.sh >/dev/null 2>&1; then brought_up=true; fi
cleanup() { if $brought_up && [ -z "${KEEP_CLUSTER:-}" ]; then bash scripts/cluster/down.sh; fi; }
trap cleanup EXIT

bash scripts/cluster/up.sh
bash scripts/deploy.sh
npm run -s build # the kubectl plugin runs from dist/
npm run -s bundle # dist/kubectl-pf, the file users install; test/e2e/plugin.test.ts runs it alone
export KUBECONFIG="$KUBECONFIG_OUT"
npm run -s test:e2e
