#!/usr/bin/env bash
# Brings up a real single-node Kubernetes cluster on this machine: etcd, the control plane,
# containerd + runc with a bridge CNI, the kubelet, kube-proxy and kube-router (NetworkPolicy), all
# inside the lab network namespace. Idempotent: a healthy cluster is left running (images are
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
config_id() { cat "$CLUSTER_DIR"/*.sh "$CLUSTER_DIR"/addons/* | sha256sum | cut -d' ' -f1; }

healthy() {
  [ -f "$RUN/components" ] || return 1
  if [ "$(cat "$RUN/config-id" 2>/dev/null)" != "$(config_id)" ]; then
    log "the running cluster was built from other scripts: rebuilding it"
    return 1
  fi
  local c
  for c in $(cat "$RUN/components"); do
    kill -0 "$(cat "$RUN/$c.pid" 2>/dev/null)" 2>/dev/null || return 1
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
  local dir
  for dir in /sys/fs/cgroup/*/; do
    [ -d "$dir" ] || continue
    mkdir -p "$dir$CGROUP_PARENT"
    if [ -f "$dir/cpuset.cpus" ]; then
      cat "$dir/cpuset.cpus" >"$dir$CGROUP_PARENT/cpuset.cpus"
      cat "$dir/cpuset.mems" >"$dir$CGROUP_PARENT/cpuset.mems"
    fi
  done
}

write_configs() {
  mkdir -p "$STATE/cni/net.d" "$STATE/etc"
  cat >"$STATE/cni/net.d/10-pfdev.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "pfdev",
  "plugins": [
    {"type": "bridge", "bridge": "pf-cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$STATE/cni/ipam", "ranges": [[{"subnet": "$NODE_POD_CIDR"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
  cat >"$STATE/etc/containerd.toml" <<TOML
version = 2
root = "$STATE/containerd"
state = "$RUN/containerd"
[grpc]
  address = "$RUN/containerd.sock"
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
        Root = "$RUN/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
TOML
  # Pods get a resolver inside the cluster only: never the machine's.
  printf 'nameserver %s\nsearch cluster.local\noptions ndots:5\n' "$DNS_SVC_IP" >"$STATE/etc/resolv.conf"
  cat >"$STATE/etc/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
containerRuntimeEndpoint: unix://$RUN/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_PARENT
cgroupsPerQOS: true
failSwapOn: false
failCgroupV1: false
protectKernelDefaults: false
readOnlyPort: 0
clusterDNS: [$DNS_SVC_IP]
clusterDomain: cluster.local
resolvConf: $STATE/etc/resolv.conf
maxPods: 500
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "0%", nodefs.available: "0%", nodefs.inodesFree: "0%", imagefs.available: "0%"}
localStorageCapacityIsolation: false
podCIDR: $NODE_POD_CIDR
YAML
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
  cat >"$STATE/etc/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $PKI/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
bindAddress: $NODE_ADDR
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# No masqueradeAll: traffic from a pod to a Service keeps its source address (only traffic from
# outside clusterCIDR is masqueraded), as on most real clusters, so a helper can tell its clients
# apart (pf-relay's per-client limits). The bridge is hairpin and bridged traffic passes iptables.
# Zeroed: kube-proxy must not write the machine's conntrack sysctls.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
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

start_node() {
  start_component containerd
  wait_for containerd 60 ctr --address "$RUN/containerd.sock" version
  bash "$CLUSTER_DIR/images.sh" import $CLUSTER_IMAGES
  start_component kubelet
  start_component kube-proxy
  wait_for "node $NODE_NAME Ready" 180 kubectl_admin wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
  wait_for "default service account" 60 kubectl_admin -n default get serviceaccount default
}

# kube-router serves /healthz from its start, so "ready" is its first full sync: the rule it
# writes last, into its own FORWARD chain.
kube_router_synced() {
  nsenter --net="$LAB_NETNS" curl -sf http://127.0.0.1:20244/healthz &&
    in_lab iptables -S KUBE-ROUTER-FORWARD | grep -q 'comply to network policies'
}

# NetworkPolicy enforcement, started once the node exists (kube-router reads its addresses).
start_netpol() {
  kubectl_admin apply -f "$CLUSTER_DIR/addons/kube-router-rbac.yaml" >/dev/null
  start_component kube-router
  wait_for "kube-router's first policy sync" 120 kube_router_synced
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
  step "lab network namespace" bash "$CLUSTER_DIR/network.sh" up
  bash "$CLUSTER_DIR/network.sh" check
  step "certificates" bash "$CLUSTER_DIR/pki.sh"
  write_configs
  step "etcd" start_etcd
  step "control plane" start_control_plane
  step "node: containerd, images, kubelet, kube-proxy" start_node
  step "network policy (kube-router, firewall only)" start_netpol
  step "cluster DNS (CoreDNS, no upstream)" start_dns
  echo "$COMPONENTS" >"$RUN/components"
  config_id >"$RUN/config-id"
  write_kubeconfig
  log "cluster is up: export KUBECONFIG=$KUBECONFIG_OUT"
}

# Sourced (for debugging one step at a time) it only defines the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
