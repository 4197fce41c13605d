#!/usr/bin/env bash
# The cluster's private network: a network namespace ("the lab", where the control plane runs)
# joined to the machine by one veth pair, and one network namespace per node joined to the lab by
# a veth pair of its own. The lab routes between the nodes' pod ranges; it has no default route and
# forwards nothing out of its uplink, and the nodes' only way out is the lab, so nothing the cluster
# runs can send traffic off this machine. Pod and Service ranges exist only behind the lab.
#   network.sh up NODES | down | check
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# guard NETNS CHAIN RULE...: a rule in a namespace's mangle table, added once. Mangle is traversed
# before filter, where kube-router keeps its own jump at the top of FORWARD and INPUT and ACCEPTs
# whatever NetworkPolicy allows, so a filter DROP would never see pod traffic. It rewrites only
# filter, never mangle.
guard() {
  local ns=$1 chain=$2; shift 2
  ip netns exec "$ns" iptables -t mangle -C "$chain" "$@" 2>/dev/null ||
    ip netns exec "$ns" iptables -t mangle -A "$chain" "$@"
}

lab_up() {
  ip netns add "$LAB_NS"
  ip link add "$HOST_IF" type veth peer name "$LAB_IF"
  ip link set "$LAB_IF" netns "$LAB_NS"
  ip addr add "$HOST_ADDR/30" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  in_lab ip link set lo up
  in_lab ip addr add "$API_ADDR/30" dev "$LAB_IF"
  in_lab ip link set "$LAB_IF" up
  in_lab sysctl -qw net.ipv4.ip_forward=1
  # Nodes and pods may talk to each other and to the control plane; nothing is forwarded out of
  # the lab's uplink.
  in_lab iptables -I FORWARD -o "$LAB_IF" -j DROP
  guard "$LAB_NS" FORWARD -o "$LAB_IF" -j DROP
}

# node_up N: node N's namespace, its link to the lab, and the routes both ways.
node_up() {
  local n=$1 ns lab_if gw addr
  ns=$(node_netns "$n") lab_if=$(node_lab_if "$n") gw=$(node_gw "$n") addr=$(node_addr "$n")
  ip netns add "$ns"
  in_lab ip link add "$lab_if" type veth peer name eth0 netns "$ns"
  in_lab ip addr add "$gw/30" dev "$lab_if"
  in_lab ip link set "$lab_if" up
  in_lab ip route add "$(node_pod_cidr "$n")" via "$addr"
  in_node "$n" ip link set lo up
  in_node "$n" ip addr add "$addr/30" dev eth0
  in_node "$n" ip link set eth0 up
  # The control plane, the other nodes and their pods: all behind the lab. Nothing else.
  in_node "$n" ip route add 10.250.0.0/16 via "$gw"
  in_node "$n" ip route add "$POD_CIDR" via "$gw"
  # Service IPs need a route for connect() to reach kube-proxy's rules; those it has not programmed
  # go into a veth whose other end is also in the node and drops everything: nowhere, never out.
  # (A dummy device would do, but this kernel has no dummy driver.)
  in_node "$n" ip link add pf-svc type veth peer name pf-svc-sink
  in_node "$n" ip link set pf-svc up
  in_node "$n" ip link set pf-svc-sink up
  in_node "$n" sysctl -qw net.ipv4.conf.pf-svc-sink.forwarding=0
  in_node "$n" iptables -I INPUT -i pf-svc-sink -j DROP
  guard "$ns" INPUT -i pf-svc-sink -j DROP
  in_node "$n" ip route add "$SERVICE_CIDR" dev pf-svc
  in_node "$n" sysctl -qw net.ipv4.ip_forward=1
  in_node "$n" sysctl -qw net.ipv4.conf.all.route_localnet=1
  # Pod -> Service -> pod on the same bridge needs bridged traffic to pass through iptables.
  in_node "$n" sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
}

# Every namespace of ours, found by name (also those of a killed run with another node count).
our_netns() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^($LAB_NS|pfnode[0-9]+)$" || true; }

net_down() {
  local ns
  for ns in $(our_netns); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  done
  ip link del "$HOST_IF" 2>/dev/null || true
  for ns in $(our_netns); do ip netns del "$ns" 2>/dev/null || true; done
}

# no_route_out NETNS: the namespace has no default route and no route to outside addresses.
no_route_out() {
  local ns=$1 addr
  if ip netns exec "$ns" ip route show default | grep -q .; then log "$ns has a default route"; return 1; fi
  for addr in 1.1.1.1 8.8.8.8 192.168.1.1 172.16.0.1; do
    if ip netns exec "$ns" ip route get "$addr" >/dev/null 2>&1; then log "$ns routes $addr"; return 1; fi
  done
}

# Proves the cluster cannot reach beyond this machine: no default route anywhere, outside addresses
# unreachable, nothing forwarded to the machine side of the lab's link.
net_check() {
  local ns
  for ns in $(our_netns); do no_route_out "$ns" || return 1; done
  if ! in_lab iptables -t mangle -C FORWARD -o "$LAB_IF" -j DROP 2>/dev/null; then
    log "lab uplink guard missing: pod traffic could be forwarded out of $LAB_IF"; return 1
  fi
  log "network check: no route out of the lab or any node, nothing forwarded out of the lab's uplink"
}

case "${1:-}" in
  up)
    lab_up
    for n in $(seq 1 "${2:?usage: network.sh up NODES}"); do node_up "$n"; done ;;
  down) net_down ;;
  check) net_check ;;
  *) echo "usage: network.sh up NODES | down | check" >&2; exit 2 ;;
esac
