#!/usr/bin/env bash
# The cluster's private network: a network namespace ("the lab") joined to the machine by one veth
# pair. The lab has no default route and nothing forwards or NATs out of it, so nothing the cluster
# runs can send traffic off this machine. Pod and Service ranges exist only inside the lab.
#   network.sh up | down | check
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# guard CHAIN RULE...: a rule in the lab's mangle table, added once.
guard() {
  local chain=$1; shift
  in_lab iptables -t mangle -C "$chain" "$@" 2>/dev/null || in_lab iptables -t mangle -A "$chain" "$@"
}

lab_up() {
  ip netns add "$LAB_NS"
  ip link add "$HOST_IF" type veth peer name "$LAB_IF"
  ip link set "$LAB_IF" netns "$LAB_NS"
  ip addr add "$HOST_ADDR/30" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  in_lab ip link set lo up
  in_lab ip addr add "$NODE_ADDR/30" dev "$LAB_IF"
  in_lab ip link set "$LAB_IF" up
  # Service IPs need a route for connect() to reach kube-proxy's rules; those it has not programmed
  # go into a veth whose other end is also in the lab and drops everything: nowhere, never out.
  # (A dummy device would do, but this kernel has no dummy driver.)
  in_lab ip link add pf-svc type veth peer name pf-svc-sink
  in_lab ip link set pf-svc up
  in_lab ip link set pf-svc-sink up
  in_lab sysctl -qw net.ipv4.conf.pf-svc-sink.forwarding=0
  in_lab iptables -I INPUT -i pf-svc-sink -j DROP
  in_lab ip route add "$SERVICE_CIDR" dev pf-svc
  in_lab sysctl -qw net.ipv4.ip_forward=1
  in_lab sysctl -qw net.ipv4.conf.all.route_localnet=1
  # Pods may talk to each other and to the node; nothing is forwarded out of the lab's uplink.
  in_lab iptables -I FORWARD -o "$LAB_IF" -j DROP
  # The same again in mangle, which is traversed before filter: kube-router keeps its own jump at the
  # top of filter's FORWARD and INPUT and ACCEPTs there whatever NetworkPolicy allows, so the filter
  # DROPs above would never see pod traffic. It rewrites only filter, never mangle.
  guard FORWARD -o "$LAB_IF" -j DROP
  guard INPUT -i pf-svc-sink -j DROP
  # Pod -> Service -> pod on the same bridge needs bridged traffic to pass through iptables.
  in_lab sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
}

lab_down() {
  ip netns pids "$LAB_NS" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip link del "$HOST_IF" 2>/dev/null || true
  ip netns del "$LAB_NS" 2>/dev/null || true
}

# Proves the lab cannot reach beyond this machine: no default route, outside addresses unreachable,
# nothing forwarded to the machine side of the link.
lab_check() {
  if in_lab ip route show default | grep -q .; then log "lab has a default route"; return 1; fi
  for addr in 1.1.1.1 8.8.8.8 192.168.1.1 172.16.0.1; do
    if in_lab ip route get "$addr" >/dev/null 2>&1; then log "lab routes $addr"; return 1; fi
  done
  if ! in_lab iptables -t mangle -C FORWARD -o "$LAB_IF" -j DROP 2>/dev/null; then
    log "lab uplink guard missing: pod traffic could be forwarded out of $LAB_IF"; return 1
  fi
  log "network check: no route out of the lab, nothing forwarded out of its uplink"
}

case "${1:-}" in
  up) lab_up ;;
  down) lab_down ;;
  check) lab_check ;;
  *) echo "usage: network.sh up|down|check" >&2; exit 2 ;;
esac
