# Shared settings and helpers for the local cluster scripts. Sourced, not run.
set -euo pipefail
# A failure inside $(...) fails the command around it too, so no build step's error is lost.
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLUSTER_DIR="$ROOT/scripts/cluster"

K8S_VERSION=v1.34.4
ETCD_VERSION=v3.6.16
COREDNS_VERSION=v1.12.4
# NetworkPolicy enforcement. The Go module proxy serves no other kube-router version.
KUBE_ROUTER_VERSION=v2.1.0

# Built binaries and images survive `down` and fresh clones: a rebuild costs tens of minutes.
CACHE=${PF_CACHE:-/var/cache/pfdev}
BIN="$CACHE/bin"
# Everything a running cluster owns; `down` removes it all.
STATE=/var/lib/pfdev
RUN=/run/pfdev
LOGS="$STATE/logs"
KUBECONFIG_OUT="$ROOT/.cluster/kubeconfig"

# The cluster's private network: a namespace "lab" joined to the machine by one veth pair.
LAB_NS=pflab
HOST_IF=pf-host          # machine side
LAB_IF=pf-lab            # lab side
HOST_ADDR=10.250.0.1     # machine side of the link
NODE_ADDR=10.250.0.2     # the node (API server advertise address, kubelet)
LINK_CIDR=10.250.0.0/30
POD_CIDR=10.251.0.0/16
NODE_POD_CIDR=10.251.0.0/22   # the one node's share: room for the scale benchmarks' pods
SERVICE_CIDR=10.252.0.0/16
KUBERNETES_SVC_IP=10.252.0.1
DNS_SVC_IP=10.252.0.10
NODE_NAME=pfdev-node
CGROUP_PARENT=pfdev      # nested cgroup root in every v1 subsystem

export PATH="$BIN:/usr/local/go/bin:$PATH"

_t0=$(date +%s)
log() { printf '[%4ss] %s\n' "$(( $(date +%s) - _t0 ))" "$*" >&2; }

# step "what" command...: runs a named step and prints how long it took.
step() {
  local what=$1; shift
  local s; s=$(date +%s%N)
  log "-> $what"
  "$@"
  local ms=$(( ($(date +%s%N) - s) / 1000000 ))
  log "   $what: done in $((ms / 1000)).$(( (ms % 1000) / 100 ))s"
}

in_lab() { ip netns exec "$LAB_NS" "$@"; }
