#!/usr/bin/env bash
# Stops, starts or restarts one process of the running local cluster (for fault tests):
#   component.sh stop|start|restart NAME
# NAME: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, or a node's component as
# COMPONENT@N (containerd, kubelet, kube-proxy or kube-router of node N, e.g. kubelet@2).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$CLUSTER_DIR/components.sh"
action=${1:-}; name=${2:-}
case " $(all_components | xargs) " in *" $name "*) ;; *) echo "usage: component.sh stop|start|restart NAME (NAME: $(all_components | xargs))" >&2; exit 2 ;; esac
case $action in
  stop) stop_component "$name" ;;
  start) start_component "$name" ;;
  restart) stop_component "$name"; start_component "$name" ;;
  *) echo "usage: component.sh stop|start|restart NAME" >&2; exit 2 ;;
esac
log "$name: $action done"
