# The cluster's processes: how each is started, shared by up.sh, component.sh and down.sh. Sourced.
PKI="$STATE/pki"
LAB_NETNS="/run/netns/$LAB_NS"
# The control plane runs in the lab; every node runs NODE_COMPONENTS of its own.
CONTROL_PLANE="etcd kube-apiserver kube-controller-manager kube-scheduler"
NODE_COMPONENTS="containerd kubelet kube-proxy kube-router"

# The nodes of the running cluster (up records them), else CLUSTER_NODES'.
running_nodes() { cat "$RUN/nodes" 2>/dev/null || node_numbers; }

# Every component of the running cluster by its name for component.sh: etcd ... kubelet@1 ...
all_components() {
  local n c
  echo $CONTROL_PLANE
  for n in $(running_nodes); do for c in $NODE_COMPONENTS; do echo "$c@$n"; done; done
}

# pid_file NAME[@N]
pid_file() {
  case $1 in
    *@*) echo "$(node_run "${1#*@}")/${1%@*}.pid" ;;
    *) echo "$RUN/$1.pid" ;;
  esac
}

# start NAME COMMAND...: runs a control-plane component inside the lab (network namespace only).
start() {
  local name=$1; shift
  setsid nsenter --net="$LAB_NETNS" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

# start_node_init N: node N's first process, PID 1 of the node's own PID namespace, in a mount
# namespace of its own (a slave of the machine's, so nothing mounted in a node shows on the machine
# or on another node) with its own /proc, in the node's network namespace. Everything of the node
# runs inside it; when it ends, the kernel ends every process of the node.
start_node_init() {
  local n=$1 run; run=$(node_run "$n")
  mkdir -p "$run"
  setsid nsenter --net="/run/netns/$(node_netns "$n")" \
    unshare --pid --mount --fork --propagation slave \
    sh -c 'mount -t proc proc /proc && mount --make-rshared / && exec "$0"' "$RUN/node-init" \
    >>"$LOGS/node-$n.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$run/unshare.pid"
  # The node's PID 1 is the child of unshare; it has its own /proc once it is node-init.
  local init i
  for ((i = 0; i < 100; i++)); do
    init=$(pgrep -P "$pid" 2>/dev/null | head -n 1) || true
    if [ -n "$init" ] && [ "$(readlink "/proc/$init/exe" 2>/dev/null)" = "$RUN/node-init" ]; then
      echo "$init" >"$run/init.pid"; return 0
    fi
    sleep 0.05
  done
  log "node $n: its init process did not start"; return 1
}

# start_in_node N NAME COMMAND...: runs a component of node N inside the node's namespaces, and
# records its pid as the machine sees it.
start_in_node() {
  local n=$1 name=$2; shift 2
  local run; run=$(node_run "$n")
  setsid nsenter --target "$(cat "$run/init.pid")" --pid --mount --net "$@" \
    >>"$LOGS/$name-$n.log" 2>&1 </dev/null &
  local parent=$! child i
  for ((i = 0; i < 100; i++)); do
    child=$(pgrep -P "$parent" 2>/dev/null | head -n 1) || true
    if [ -n "$child" ] && [ "$(program_of "$child")" = "$name" ]; then echo "$child" >"$run/$name.pid"; return 0; fi
    sleep 0.05
  done
  log "node $n: $name did not start; see $LOGS/$name-$n.log"; return 1
}

# program_of PID: the base name of the program PID runs.
program_of() {
  local program
  program=$(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | head -n 1) || true
  echo "${program##*/}"
}

start_component() {
  case $1 in
    *@*) start_node_component "${1%@*}" "${1#*@}" ;;
    etcd)
      start etcd etcd --name pfdev --data-dir "$STATE/etcd" \
        --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
        --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster pfdev=http://127.0.0.1:2380 --unsafe-no-fsync --log-level warn ;;
    kube-apiserver)
      start kube-apiserver kube-apiserver --advertise-address="$API_ADDR" --secure-port=6443 \
        --etcd-servers=http://127.0.0.1:2379 --service-cluster-ip-range="$SERVICE_CIDR" \
        --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
        --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
        --kubelet-certificate-authority="$PKI/ca.crt" \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
        --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
        --kubelet-preferred-address-types=InternalIP,Hostname \
        --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
        --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
        --requestheader-extra-headers-prefix=X-Remote-Extra- \
        --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
        --enable-aggregator-routing=true \
        --audit-policy-file="$STATE/etc/audit-policy.yaml" --audit-log-path="$LOGS/audit.log" \
        --audit-log-maxsize=200 --audit-log-maxbackup=2 \
        --allow-privileged=true --profiling=false --v=1 ;;
    kube-controller-manager)
      start kube-controller-manager kube-controller-manager --kubeconfig="$PKI/controller-manager.kubeconfig" \
        --authentication-kubeconfig="$PKI/controller-manager.kubeconfig" --authorization-kubeconfig="$PKI/controller-manager.kubeconfig" \
        --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
        --use-service-account-credentials=true --leader-elect=false --bind-address=127.0.0.1 \
        --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" --profiling=false --v=1 ;;
    kube-scheduler)
      start kube-scheduler kube-scheduler --kubeconfig="$PKI/scheduler.kubeconfig" \
        --authentication-kubeconfig="$PKI/scheduler.kubeconfig" --authorization-kubeconfig="$PKI/scheduler.kubeconfig" \
        --leader-elect=false --bind-address=127.0.0.1 --profiling=false --v=1 ;;
    *) echo "unknown component $1 (one of: $(all_components | xargs))" >&2; return 2 ;;
  esac
}

# start_node_component NAME N
start_node_component() {
  local name=$1 n=$2 state node
  state=$(node_state "$n") node=$(node_name "$n")
  case $name in
    containerd)
      start_in_node "$n" containerd containerd --config "$state/containerd.toml" ;;
    kubelet)
      start_in_node "$n" kubelet kubelet --config="$state/kubelet.yaml" --kubeconfig="$PKI/kubelet-$n.kubeconfig" \
        --hostname-override="$node" --node-ip="$(node_addr "$n")" --root-dir="$state/kubelet" --v=1 ;;
    kube-proxy)
      start_in_node "$n" kube-proxy kube-proxy --config="$state/kube-proxy.yaml" --v=1 ;;
    kube-router)
      # NetworkPolicy only: kube-proxy does Services, the bridge CNI does pod networking. It needs
      # the node object to exist (it exits otherwise); /healthz (:20244) serves no pprof (gobuild/).
      start_in_node "$n" kube-router kube-router --kubeconfig="$PKI/kube-router.kubeconfig" --hostname-override="$node" \
        --run-firewall=true --run-router=false --run-service-proxy=false --run-loadbalancer=false \
        --enable-cni=false --enable-ipv4=true --enable-ipv6=false \
        --service-cluster-ip-range="$SERVICE_CIDR" --service-node-port-range=30000-32767 \
        --iptables-sync-period=1m --health-port=20244 --metrics-port=0 --v=1 ;;
    *) echo "unknown node component $name (one of: $NODE_COMPONENTS)" >&2; return 2 ;;
  esac
}

# recorded_pid NAME: the pid `start` recorded for NAME, if that process still is NAME (a pid may be
# reused): its program's name must be NAME exactly, not merely mention it (kube-apiserver's
# --etcd-servers mentions etcd). Forgets the record either way.
recorded_pid() {
  local file pid; file=$(pid_file "$1")
  pid=$(cat "$file" 2>/dev/null) || return 0
  rm -f "$file"
  if [ "$(program_of "$pid")" = "${1%@*}" ]; then echo "$pid"; fi
}

# stop_pids SECONDS PID...: TERM, up to SECONDS for all of them to exit, then KILL what is left.
stop_pids() {
  local seconds=$1 pid alive; shift
  [ $# -gt 0 ] || return 0
  kill "$@" 2>/dev/null || true
  for _ in $(seq $((seconds * 4))); do
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 1 ] || break
    sleep 0.25
  done
  kill -9 "$@" 2>/dev/null || true
}

stop_component() {
  stop_pids 10 $(recorded_pid "$1")
}
