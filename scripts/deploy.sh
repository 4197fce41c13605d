#!/usr/bin/env bash
# Installs the operator into the local cluster from manifests/ with the locally built images,
# and waits until it is available. Safe to run again: images are re-imported and the operator
# restarted, so a changed build takes effect. On failure it shows the operator pods' state and logs.
source "$(dirname "$0")/cluster/lib.sh"
source "$ROOT/scripts/lib/explain.sh"
export KUBECONFIG="$KUBECONFIG_OUT"

rollout() {
  kubectl -n portforward-system rollout restart deployment/portforward-operator >/dev/null
  kubectl -n portforward-system rollout status deployment/portforward-operator --timeout=180s
}

step "images: operator and helper" bash "$CLUSTER_DIR/images.sh" import operator helper
step "apply manifests/" kubectl apply -k "$ROOT/manifests" >/dev/null
kubectl wait --for=condition=Established crd/portforwards.portforward.io --timeout=60s >/dev/null ||
  fail_with "the PortForward CRD was not established within 60 s" "kubectl get crd portforwards.portforward.io -o yaml"
if ! step "operator rollout" rollout; then
  explain_pods portforward-system app.kubernetes.io/name=portforward-operator
  fail_with "the operator did not become available within 180 s" "kubectl -n portforward-system get pods; the pod logs above"
fi
