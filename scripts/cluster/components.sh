# The cluster's processes: how each is started, shared by up.sh and component.sh. Sourced.
PKI="$STATE/pki"
LAB_NETNS="/run/netns/$LAB_NS"
COMPONENTS="etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy kube-router"

# start NAME COMMAND...: runs a component inside the lab (network namespace only: it shares the
# machine's mounts, so the kubelet's volume mounts are visible to containerd's shims).
start() {
  local name=$1; shift
  setsid nsenter --net="$LAB_NETNS" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

start_component() {
  case $1 in
    etcd)
      start etcd etcd --name pfdev --data-dir "$STATE/etcd" \
        --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
        --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster pfdev=http://127.0.0.1:2380 --unsafe-no-fsync --log-level warn ;;
    kube-apiserver)
      start kube-apiserver kube-apiserver --advertise-address="$NODE_ADDR" --secure-port=6443 \
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
    containerd)
      start containerd containerd --config "$STATE/etc/containerd.toml" ;;
    kubelet)
      start kubelet kubelet --config="$STATE/etc/kubelet.yaml" --kubeconfig="$PKI/kubelet.kubeconfig" \
        --hostname-override="$NODE_NAME" --node-ip="$NODE_ADDR" --root-dir="$STATE/kubelet" --v=1 ;;
    kube-proxy)
      start kube-proxy kube-proxy --config="$STATE/etc/kube-proxy.yaml" --v=1 ;;
    kube-router)
      # NetworkPolicy only: kube-proxy does Services, the bridge CNI does pod networking. It needs
      # the node object to exist (it exits otherwise); /healthz (:20244) serves no pprof (gobuild/).
      start kube-router kube-router --kubeconfig="$PKI/kube-router.kubeconfig" --hostname-override="$NODE_NAME" \
        --run-firewall=true --run-router=false --run-service-proxy=false --run-loadbalancer=false \
        --enable-cni=false --enable-ipv4=true --enable-ipv6=false \
        --service-cluster-ip-range="$SERVICE_CIDR" --service-node-port-range=30000-32767 \
        --iptables-sync-period=1m --health-port=20244 --metrics-port=0 --v=1 ;;
    *) echo "unknown component $1 (one of: $COMPONENTS)" >&2; return 2 ;;
  esac
}

# recorded_pid NAME: the pid `start` recorded for NAME, if that process still is NAME (a pid may be
# reused): its program's name must be NAME exactly, not merely mention it (kube-apiserver's
# --etcd-servers mentions etcd). Forgets the record either way.
recorded_pid() {
  local pid program
  pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 0
  rm -f "$RUN/$1.pid"
  [ -r "/proc/$pid/cmdline" ] || return 0
  program=$(tr '\0' '\n' <"/proc/$pid/cmdline" | head -n 1)
  if [ "${program##*/}" = "$1" ]; then echo "$pid"; fi
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
