#!/usr/bin/env bash
# Installs the operator into the local cluster from manifests/ with the locally built images,
# and waits until it is available. Safe to run again: images are re-imported and the operator
# restarted, so a changed build takes effect. On failure it shows the operator pods' state and logs.
source "$(dirname "$0")/cluster/lib.sh"
source "$ROOT/scripts/lib/explain.sh"
export KUBECONFIG="$KUBECONFIG_OUT"

rollout() {
  kubectl -n portforward-system rollout restart "deployment/$1" >/dev/null
  kubectl -n portforward-system rollout status "deployment/$1" --timeout=180s
}

step "images: operator and helper" bash "$CLUSTER_DIR/images.sh" import operator helper
step "apply manifests/" kubectl apply -k "$ROOT/manifests" >/dev/null
kubectl wait --for=condition=Established crd/portforwards.portforward.io --timeout=60s >/dev/null ||
  fail_with "the PortForward CRD was not established within 60 s" "kubectl get crd portforwards.portforward.io -o yaml"
if ! step "operator rollout" rollout portforward-operator; then
  explain_pods portforward-system app.kubernetes.io/component=operator
  fail_with "the operator did not become available within 180 s" "kubectl -n portforward-system get pods; the pod logs above"
fi
if ! step "tunnel API gateway rollout" rollout portforward-gateway; then
  explain_pods portforward-system app.kubernetes.io/component=gateway
  fail_with "the tunnel API gateway did not become available within 180 s" "kubectl -n portforward-system get pods; the pod logs above"
fi
if ! step "tunnel API available" kubectl wait --for=condition=Available apiservice/v1alpha1.connect.portforward.io --timeout=60s >/dev/null; then
  explain_pods portforward-system app.kubernetes.io/component=gateway
  fail_with "the APIService v1alpha1.connect.portforward.io is not Available" "kubectl get apiservice v1alpha1.connect.portforward.io -o yaml; kube-apiserver's log: $LOGS/kube-apiserver.log"
fi
