#!/usr/bin/env bash
# The demo: a real cluster on this machine, the operator deployed from manifests/, a pod whose
# server listens only on 127.0.0.1, a PortForward to it, and a request through each way in:
# the in-cluster Service, the HTTP path through the API server, and `kubectl pf connect`.
# Any failing step stops the demo with what failed, the state and logs that explain it, and where
# to look further.
source "$(dirname "$0")/cluster/lib.sh"
source "$ROOT/scripts/lib/explain.sh"
export KUBECONFIG="$KUBECONFIG_OUT"
cd "$ROOT"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
# attempt N COMMAND...: runs the command until it succeeds, at most N times a second apart.
attempt() {
  local n=$1 i; shift
  for ((i = 1; i <= n; i++)); do "$@" && return 0; sleep 1; done
  return 1
}

say "0. Node dependencies"
bash "$ROOT/scripts/node-deps.sh" || fail_with "npm ci failed" "the npm output above"
npm run -s build || fail_with "the TypeScript build failed" "the tsc output above"

say "1. A real Kubernetes cluster on this machine (a cold first run builds it from Go modules: about 10 minutes)"
bash "$CLUSTER_DIR/up.sh" || fail_with "the cluster did not come up" "$LOGS/*.log; npm run cluster:status"

say "2. The operator, installed with kubectl apply -k manifests/"
bash "$ROOT/scripts/deploy.sh" || exit 1

say "3. A target pod whose web server listens on 127.0.0.1:8080 only"
show kubectl apply -f manifests/examples/demo-target.yaml
show kubectl -n demo wait --for=condition=Ready pod/web --timeout=120s ||
  { explain_pod demo web; fail_with "the target pod demo/web did not become Ready" "kubectl -n demo describe pod web"; }

say "4. A PortForward to it; Ready means a connection through its Service reaches the target's port"
show cat manifests/examples/demo-portforward.yaml
show kubectl apply -f manifests/examples/demo-portforward.yaml
show kubectl -n demo wait --for=condition=Ready portforward/web --timeout=120s ||
  { explain_portforward demo web; fail_with "the PortForward demo/web did not become Ready" "kubectl -n demo describe portforward web"; }
show kubectl -n demo get portforwards -o wide

say "5. Way in: the in-cluster Service, from another pod in the namespace"
address=$(kubectl -n demo get portforward web -o jsonpath='{.status.access.inCluster[0]}')
# A fresh client each run: one left by an earlier run may have finished its sleep.
kubectl -n demo delete pod client --ignore-not-found --wait=true >/dev/null
kubectl -n demo run client --image=localhost/toolbox:dev --image-pull-policy=Never --restart=Never \
  --command -- sleep 600 >/dev/null
kubectl -n demo wait --for=condition=Ready pod/client --timeout=120s >/dev/null ||
  { explain_pod demo client; fail_with "the client pod demo/client did not become Ready" "kubectl -n demo describe pod client"; }
show kubectl -n demo exec client -- curl -sS --max-time 10 "http://$address/" ||
  { explain_portforward demo web; fail_with "no answer from http://$address/ inside the cluster" "kubectl -n demo describe portforward web"; }

say "6. Way in: HTTP through the API server, the tunnel API's proxy subresource (status.access.apiServerProxy)"
path=$(kubectl -n demo get portforward web -o jsonpath='{.status.access.apiServerProxy[0]}')
[ -n "$path" ] || fail_with "status.access.apiServerProxy is empty" "kubectl -n demo get portforward web -o yaml"
# RBAC in namespace demo decides (ClusterRole portforward-tunnel-user, part of edit and admin).
printf '$ kubectl get --raw %s\n' "$path"
attempt 10 kubectl get --raw "$path" ||
  { explain_portforward demo web; fail_with "no answer through the API server at $path" "kubectl get --raw $path"; }

say "7. Way in: kubectl pf connect, from this machine (a WebSocket of the tunnel API)"
mkdir -p .cluster/bin && ln -sfn "$ROOT/bin/kubectl-pf.js" .cluster/bin/kubectl-pf
export PATH="$ROOT/.cluster/bin:$PATH"
printf '$ kubectl pf connect -n demo web 18080:10080 &\n'
kubectl pf connect -n demo web 18080:10080 >.cluster/demo-connect.log 2>&1 &
connect=$!
trap 'kill $connect 2>/dev/null || true' EXIT
attempt 30 grep -q 'Forwarding from 127.0.0.1:18080' .cluster/demo-connect.log ||
  { cat .cluster/demo-connect.log >&2; fail_with "kubectl pf connect did not start forwarding" ".cluster/demo-connect.log"; }
cat .cluster/demo-connect.log
show curl -sS --max-time 10 http://127.0.0.1:18080/ ||
  { cat .cluster/demo-connect.log >&2; explain_portforward demo web; fail_with "no answer through kubectl pf connect" ".cluster/demo-connect.log"; }
kill "$connect" 2>/dev/null || true

say "8. Status and events"
show kubectl -n demo describe portforward web

say "Done in $(( $(date +%s) - _t0 ))s. The cluster keeps running: export KUBECONFIG=$KUBECONFIG_OUT PATH=$ROOT/.cluster/bin:\$PATH; kubectl get pf -A; npm run cluster:down when finished."
