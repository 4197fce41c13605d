#!/usr/bin/env bash
# Brings up a real Kubernetes cluster on this machine: etcd and the control plane in the lab network
# namespace, and CLUSTER_NODES nodes (default 2), each in network, PID and mount namespaces of its
# own with its own containerd + runc and bridge CNI, kubelet, kube-proxy and kube-router
# (NetworkPolicy), as separate machines would be. Idempotent: a healthy cluster is left running (images are
# refreshed); anything else, including what a killed run left behind, is cleaned up first.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$CLUSTER_DIR/components.sh"
# The images the cluster itself needs; the operator and helper images come with scripts/deploy.sh.
CLUSTER_IMAGES="pause toolbox coredns"

# wait_for WHAT SECONDS COMMAND...: polls until the command succeeds.
wait_for() {
  local what=$1 limit=$2; shift 2
  local i
  for ((i = 0; i < limit * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "timed out after ${limit}s waiting for $what; last log lines:"
  tail -n 30 "$LOGS"/*.log 2>/dev/null | tail -n 60 >&2
  return 1
}

kubectl_admin() { kubectl --kubeconfig "$PKI/admin.kubeconfig" "$@"; }

# What the running cluster was built from: a cluster built from other scripts is rebuilt, so a
# changed flag or certificate never goes unnoticed behind "already running".
config_id() { { cat "$CLUSTER_DIR"/*.sh "$CLUSTER_DIR"/addons/*; echo "nodes=$CLUSTER_NODES"; } | sha256sum | cut -d' ' -f1; }

healthy() {
  [ -f "$RUN/nodes" ] || return 1
  if [ "$(cat "$RUN/config-id" 2>/dev/null)" != "$(config_id)" ]; then
    log "the running cluster was built from other scripts or for another CLUSTER_NODES: rebuilding it"
    return 1
  fi
  local c
  for c in $(all_components); do
    kill -0 "$(cat "$(pid_file "$c")" 2>/dev/null)" 2>/dev/null || return 1
  done
  kubectl_admin get --raw /readyz >/dev/null 2>&1
}

prepare_host() {
  mount --make-rshared /
  mkdir -p "$STATE" "$RUN" "$LOGS" "$ROOT/.cluster"
  # A cgroup v1 hierarchy the kubelet expects but the machine does not mount.
  if ! grep -q ' /sys/fs/cgroup/hugetlb ' /proc/mounts && grep -q '^hugetlb' /proc/cgroups; then
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb 2>/dev/null || rmdir /sys/fs/cgroup/hugetlb
  fi
  # A nested cgroup root in every v1 hierarchy, so the kubelet never touches the machine's own.
  # Each node has its own inside it.
  local dir sub n
  for dir in /sys/fs/cgroup/*/; do
    [ -d "$dir" ] || continue
    for sub in "$CGROUP_PARENT" $(for n in $(node_numbers); do echo "$CGROUP_PARENT/node-$n"; done); do
      mkdir -p "$dir$sub"
      if [ -f "$dir/cpuset.cpus" ]; then
        cat "$dir/cpuset.cpus" >"$dir$sub/cpuset.cpus"
        cat "$dir/cpuset.mems" >"$dir$sub/cpuset.mems"
      fi
    done
  done
  # Every node's PID 1: the pod sandbox's reaper (scripts/cluster/gobuild/pause).
  (cd "$CLUSTER_DIR/gobuild/pause" && CGO_ENABLED=0 go build -trimpath -o "$RUN/node-init" .)
}

# write_node_configs N: node N's CNI, containerd, kubelet and kube-proxy settings, in its state folder.
write_node_configs() {
  local n=$1 state run node
  state=$(node_state "$n") run=$(node_run "$n") node=$(node_name "$n")
  mkdir -p "$state/cni/net.d" "$state/pod-logs" "$run"
  cat >"$state/cni/net.d/10-pfdev.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "pfdev",
  "plugins": [
    {"type": "bridge", "bridge": "pf-cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$state/cni/ipam", "ranges": [[{"subnet": "$(node_pod_cidr "$n")"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
  cat >"$state/containerd.toml" <<TOML
version = 2
root = "$state/containerd"
state = "$run/containerd"
[grpc]
  address = "$run/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:dev"
  enable_selinux = false
  restrict_oom_score_adj = true  # this machine refuses lowering oom_score_adj
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$run/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$state/cni/net.d"
TOML
  cat >"$state/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-serving-$n.crt
tlsPrivateKeyFile: $PKI/kubelet-serving-$n.key
containerRuntimeEndpoint: unix://$run/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_PARENT/node-$n
cgroupsPerQOS: true
failSwapOn: false
failCgroupV1: false
protectKernelDefaults: false
readOnlyPort: 0
clusterDNS: [$DNS_SVC_IP]
clusterDomain: cluster.local
resolvConf: $STATE/etc/resolv.conf
maxPods: 500
# Each kubelet its own log folder: both share this host's filesystem, and a kubelet's log GC
# deletes the folders of pods it does not know, so in /var/log/pods they removed each other's.
podLogsDir: $state/pod-logs
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "0%", nodefs.available: "0%", nodefs.inodesFree: "0%", imagefs.available: "0%"}
localStorageCapacityIsolation: false
podCIDR: $(node_pod_cidr "$n")
YAML
  cat >"$state/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $PKI/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $node
bindAddress: $(node_addr "$n")
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# No masqueradeAll: traffic from a pod to a Service keeps its source address (only traffic from
# outside clusterCIDR is masqueraded), as on most real clusters, so a helper can tell its clients
# apart (pf-relay's per-client limits). The bridge is hairpin and bridged traffic passes iptables.
# Zeroed: kube-proxy must not write the machine's conntrack sysctls.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
}

write_configs() {
  mkdir -p "$STATE/etc"
  # Pods get a resolver inside the cluster only: never the machine's.
  printf 'nameserver %s\nsearch cluster.local\noptions ndots:5\n' "$DNS_SVC_IP" >"$STATE/etc/resolv.conf"
  local n
  for n in $(node_numbers); do write_node_configs "$n"; done
  # Tunnels and other ways into pods, at Metadata level (who, which object, the request URI with
  # its port); nothing else, so the log stays small.
  cat >"$STATE/etc/audit-policy.yaml" <<YAML
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    resources:
      - group: connect.portforward.io
      - group: portforward.io
      - group: ""
        resources: [pods/portforward, pods/proxy, pods/exec, pods/attach, services/proxy]
  - level: None
YAML

}

start_etcd() {
  start_component etcd
  wait_for etcd 60 nsenter --net="$LAB_NETNS" curl -sf http://127.0.0.1:2379/health
}

start_control_plane() {
  start_component kube-apiserver
  wait_for kube-apiserver 120 kubectl_admin get --raw /readyz
  start_component kube-controller-manager
  start_component kube-scheduler
}

# start_node N: node N's init, containerd (with the cluster's images), kubelet and kube-proxy.
start_node() {
  local n=$1
  start_node_init "$n"
  start_component "containerd@$n"
  wait_for "containerd on node $n" 60 ctr --address "$(node_run "$n")/containerd.sock" version
  NODES=$n bash "$CLUSTER_DIR/images.sh" import $CLUSTER_IMAGES
  start_component "kubelet@$n"
  start_component "kube-proxy@$n"
}

start_nodes() {
  local n
  for n in $(node_numbers); do step "node $n ($(node_name "$n")): containerd, images, kubelet, kube-proxy" start_node "$n"; done
  for n in $(node_numbers); do
    wait_for "node $(node_name "$n") Ready" 180 kubectl_admin wait --for=condition=Ready "node/$(node_name "$n")" --timeout=2s
  done
  wait_for "default service account" 60 kubectl_admin -n default get serviceaccount default
}

# kube-router serves /healthz from its start, so "ready" is its first full sync: the rule it
# writes last, into its own FORWARD chain.
kube_router_synced() {
  in_node "$1" curl -sf http://127.0.0.1:20244/healthz &&
    in_node "$1" iptables -S KUBE-ROUTER-FORWARD | grep -q 'comply to network policies'
}

# NetworkPolicy enforcement, started once the node exists (kube-router reads its addresses).
start_netpol() {
  kubectl_admin apply -f "$CLUSTER_DIR/addons/kube-router-rbac.yaml" >/dev/null
  local n
  for n in $(node_numbers); do start_component "kube-router@$n"; done
  for n in $(node_numbers); do wait_for "kube-router's first policy sync on node $n" 120 kube_router_synced "$n"; done
}

start_dns() {
  sed "s/__DNS_SVC_IP__/$DNS_SVC_IP/" "$CLUSTER_DIR/addons/coredns.yaml" | kubectl_admin apply -f - >/dev/null
  wait_for "cluster DNS" 120 kubectl_admin -n kube-system rollout status deployment/coredns --timeout=2s
}

# The admin kubeconfig in this checkout, also when the cluster was brought up from another one.
write_kubeconfig() {
  mkdir -p "$(dirname "$KUBECONFIG_OUT")"
  cp "$PKI/admin.kubeconfig" "$KUBECONFIG_OUT"
}

main() {
  step "debian packages" bash "$CLUSTER_DIR/install-deps.sh"
  step "kubernetes, etcd, coredns and kube-router binaries" bash "$CLUSTER_DIR/build-binaries.sh"
  step "images" bash "$CLUSTER_DIR/images.sh" build $CLUSTER_IMAGES
  if healthy; then
    step "images (cluster already running)" bash "$CLUSTER_DIR/images.sh" import $CLUSTER_IMAGES
    write_kubeconfig
    log "cluster is up: export KUBECONFIG=$KUBECONFIG_OUT"
    return
  fi
  step "clean up what an earlier run left" bash "$CLUSTER_DIR/down.sh" --keep-cache
  step "prepare the machine" prepare_host
  step "network namespaces: the lab and $CLUSTER_NODES node(s)" bash "$CLUSTER_DIR/network.sh" up "$CLUSTER_NODES"
  bash "$CLUSTER_DIR/network.sh" check
  step "certificates" bash "$CLUSTER_DIR/pki.sh"
  write_configs
  step "etcd" start_etcd
  step "control plane" start_control_plane
  node_numbers >"$RUN/nodes"
  step "nodes" start_nodes
  step "network policy (kube-router, firewall only)" start_netpol
  step "cluster DNS (CoreDNS, no upstream)" start_dns
  config_id >"$RUN/config-id"
  write_kubeconfig
  log "cluster is up: export KUBECONFIG=$KUBECONFIG_OUT"
}

# Sourced (for debugging one step at a time) it only defines the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
