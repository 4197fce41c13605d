#!/usr/bin/env bash
# Stops, starts or restarts one process of the running local cluster (for fault tests):
#   component.sh stop|start|restart etcd|kube-apiserver|kube-controller-manager|kube-scheduler|containerd|kubelet|kube-proxy|kube-router
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$CLUSTER_DIR/components.sh"
action=${1:-}; name=${2:-}
case " $COMPONENTS " in *" $name "*) ;; *) echo "usage: component.sh stop|start|restart NAME (NAME: $COMPONENTS)" >&2; exit 2 ;; esac
case $action in
  stop) stop_component "$name" ;;
  start) start_component "$name" ;;
  restart) stop_component "$name"; start_component "$name" ;;
  *) echo "usage: component.sh stop|start|restart NAME" >&2; exit 2 ;;
esac
log "$name: $action done"
