#!/usr/bin/env bash
# Installs the operator into the local cluster from manifests/ with the locally built images,
# and waits until it is available. Safe to run again: images are re-imported and the operator
# restarted, so a changed build takes effect.
source "$(dirname "$0")/cluster/lib.sh"
export KUBECONFIG="$KUBECONFIG_OUT"

step "images: operator and helper" bash "$CLUSTER_DIR/images.sh" import operator helper
step "apply manifests/" kubectl apply -k "$ROOT/manifests" >/dev/null
kubectl wait --for=condition=Established crd/portforwards.portforward.io --timeout=60s >/dev/null
kubectl -n portforward-system rollout restart deployment/portforward-operator >/dev/null
step "operator rollout" kubectl -n portforward-system rollout status deployment/portforward-operator --timeout=180s
