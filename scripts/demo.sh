#!/usr/bin/env bash
# The demo: a real cluster on this machine, the operator deployed from manifests/, a pod whose
# server listens only on 127.0.0.1, a PortForward to it, and requests through the tunnel.
source "$(dirname "$0")/cluster/lib.sh"
export KUBECONFIG="$KUBECONFIG_OUT"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

say "1. A real single-node Kubernetes cluster (first run builds it: about half an hour)"
bash "$CLUSTER_DIR/up.sh"
say "2. The operator, installed with kubectl apply -k manifests/"
bash "$ROOT/scripts/deploy.sh"

say "3. A target pod whose web server listens on 127.0.0.1:8080 only"
kubectl apply -f "$ROOT/manifests/examples/demo-target.yaml" >/dev/null
show kubectl -n demo wait --for=condition=Ready pod/web --timeout=120s

say "4. A PortForward to it"
show cat "$ROOT/manifests/examples/demo-portforward.yaml"
show kubectl apply -f "$ROOT/manifests/examples/demo-portforward.yaml"
show kubectl -n demo wait --for=condition=Ready portforward/web --timeout=120s
show kubectl -n demo get portforwards -o wide

say "5. A request through the API server's service proxy"
show kubectl get --raw /api/v1/namespaces/demo/services/pf-web:10080/proxy/

say "6. A request from another pod through the tunnel's Service"
ip=$(kubectl -n demo get svc pf-web -o jsonpath='{.spec.clusterIP}')
kubectl -n demo run client --image=localhost/toolbox:dev --image-pull-policy=Never --restart=Never \
  --command -- sleep 300 >/dev/null 2>&1 || true
kubectl -n demo wait --for=condition=Ready pod/client --timeout=120s >/dev/null
show kubectl -n demo exec client -- curl -s "http://$ip:10080/"

say "7. Status and events"
show kubectl -n demo describe portforward web

say "Done. Try: export KUBECONFIG=$KUBECONFIG_OUT; kubectl get pf -A; npm run cluster:down when finished."
