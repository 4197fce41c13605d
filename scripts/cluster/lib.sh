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
# The chart's installs and upgrades in the end-to-end tests.
HELM_VERSION=v3.22.0

# Built binaries and images survive `down` and fresh clones: a rebuild costs tens of minutes.
CACHE=${PF_CACHE:-/var/cache/pfdev}
BIN="$CACHE/bin"
# Everything a running cluster owns; `down` removes it all.
STATE=/var/lib/pfdev
RUN=/run/pfdev
LOGS="$STATE/logs"
KUBECONFIG_OUT="$ROOT/.cluster/kubeconfig"

# The cluster's private network: a namespace "lab" joined to the machine by one veth pair. The
# control plane runs in the lab; each node is a network namespace of its own behind the lab, which
# routes between the nodes' pod ranges and forwards nothing out of its uplink.
LAB_NS=pflab
HOST_IF=pf-host          # machine side
LAB_IF=pf-lab            # lab side
HOST_ADDR=10.250.0.1     # machine side of the link
API_ADDR=10.250.0.2      # the API server's advertise address, in the lab
LINK_CIDR=10.250.0.0/30
POD_CIDR=10.251.0.0/16
SERVICE_CIDR=10.252.0.0/16
KUBERNETES_SVC_IP=10.252.0.1
DNS_SVC_IP=10.252.0.10
CGROUP_PARENT=pfdev      # nested cgroup root in every v1 subsystem; each node has one inside it

# Nodes: two by default, like separate machines (own network, PID and mount namespaces, kubelet,
# containerd, kube-proxy and kube-router). Node N (1-based) is:
CLUSTER_NODES=${CLUSTER_NODES:-2}
case $CLUSTER_NODES in [1-9]) ;; *) echo "CLUSTER_NODES must be 1-9, not '$CLUSTER_NODES'" >&2; exit 2 ;; esac
node_name() { echo "pfdev-node-$1"; }
node_netns() { echo "pfnode$1"; }                       # its network namespace
node_lab_if() { echo "pf-node$1"; }                      # its link's lab side
node_gw() { echo "10.250.$1.1"; }                        # the lab's address on that link
node_addr() { echo "10.250.$1.2"; }                      # the node's InternalIP
node_pod_cidr() { echo "10.251.$(( ($1 - 1) * 4 )).0/22"; } # room for the scale benchmarks' pods
node_state() { echo "$STATE/node-$1"; }
node_run() { echo "$RUN/node-$1"; }
node_numbers() { seq 1 "$CLUSTER_NODES"; }

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
in_node() { local n=$1; shift; ip netns exec "$(node_netns "$n")" "$@"; }
