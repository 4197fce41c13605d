#!/usr/bin/env bash
# Shows whether each component of the local cluster runs, and the node.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$CLUSTER_DIR/components.sh"
rc=0
for name in $(all_components); do
  pid=$(cat "$(pid_file "$name")" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    printf '%-24s running (pid %s, %s MiB)\n' "$name" "$pid" "$(( $(awk '/VmRSS/ {print $2}' "/proc/$pid/status") / 1024 ))"
  else
    printf '%-24s stopped\n' "$name"; rc=1
  fi
done
if [ -f "$KUBECONFIG_OUT" ]; then kubectl --kubeconfig "$KUBECONFIG_OUT" get nodes -o wide 2>&1 || rc=1; fi
exit $rc
