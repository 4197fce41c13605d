#!/usr/bin/env bash
# Stops the local cluster and removes everything it set up: its processes (by the pids `up`
# recorded, each node's PID 1, whose end ends every process of the node, and the container shims of
# its containerds), mounts, network namespaces, iptables rules (they live in those namespaces),
# cgroups and state. Built binaries and images stay cached
# unless --purge is given.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$CLUSTER_DIR/components.sh"

# Every component at once: stopping them one by one took twice as long.
stop_recorded_processes() {
  local name pids=()
  for name in $(all_components); do pids+=($(recorded_pid "$name")); done
  stop_pids 5 "${pids[@]}"
}

# Each node's PID 1 (also of a killed run's nodes, whatever their count): the kernel ends the rest
# of the node with it.
stop_node_inits() {
  local file pid
  for file in "$RUN"/node-*/init.pid; do
    [ -f "$file" ] || continue
    pid=$(cat "$file")
    if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$RUN/node-init" ]; then kill -9 "$pid" 2>/dev/null || true; fi
    rm -f "$file"
  done
}

# Container shims and their containers: started by our containerd, found by its socket or state paths.
stop_containers() {
  local pids
  pids=$(pgrep -f "containerd-shim-runc-v2 .*-address $RUN/.*containerd.sock" || true)
  [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
  # Whatever still runs in the cluster's cgroups is a container process.
  local procs
  procs=$(find /sys/fs/cgroup/*/"$CGROUP_PARENT" -name cgroup.procs -exec cat {} + 2>/dev/null) || true
  [ -n "$procs" ] && kill -9 $procs 2>/dev/null || true
  sleep 0.5
}

unmount_all() {
  local mnt
  # Deepest first; lazy, because a dying container may still hold one.
  for prefix in "$STATE" "$RUN" /run/netns/cni- /var/run/netns/cni-; do
    awk -v p="$prefix" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r | while read -r mnt; do
      umount -l "$mnt" 2>/dev/null || true
    done
  done
  rm -f /run/netns/cni-* 2>/dev/null || true
}

remove_cgroups() {
  local dir
  for dir in /sys/fs/cgroup/*/"$CGROUP_PARENT"; do
    [ -d "$dir" ] || continue
    find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

main() {
  stop_recorded_processes
  stop_node_inits
  stop_containers
  unmount_all
  bash "$CLUSTER_DIR/network.sh" down
  remove_cgroups
  rm -rf "$STATE" "$RUN" "$ROOT/.cluster"
  if [ "${1:-}" = --purge ]; then rm -rf "$CACHE"; log "removed the build cache $CACHE"; fi
  log "cluster is down"
}

main "$@"
