# When a step fails: what a person needs to act on it, printed to stderr. Sourced, not run.
# Each explain_* prints the object's state, the last lines of the logs that matter, and the
# commands to look further; fail_with prints a one-line verdict and exits.

_hr() { printf '\n\033[1;31m-- %s\033[0m\n' "$*" >&2; }

# explain_pod NS POD: phase, container states, last log lines.
explain_pod() {
  local ns=$1 pod=$2
  _hr "pod $ns/$pod"
  kubectl -n "$ns" get pod "$pod" -o wide >&2 || return 0
  kubectl -n "$ns" get pod "$pod" -o jsonpath='{range .status.containerStatuses[*]}container {.name}: ready={.ready} restarts={.restartCount} state={.state} last={.lastState}{"\n"}{end}' >&2 || true
  kubectl -n "$ns" get events --field-selector "involvedObject.name=$pod" --sort-by=.lastTimestamp 2>/dev/null | tail -n 8 >&2 || true
  _hr "last log lines of $ns/$pod"
  kubectl -n "$ns" logs "$pod" --all-containers --tail=20 >&2 2>&1 || true
  kubectl -n "$ns" logs "$pod" --all-containers --tail=20 --previous >&2 2>/dev/null || true
  printf 'look further: kubectl -n %s describe pod %s; kubectl -n %s logs %s\n' "$ns" "$pod" "$ns" "$pod" >&2
}

# explain_pods NS SELECTOR: every pod the selector matches.
explain_pods() {
  local ns=$1 selector=$2 pod
  for pod in $(kubectl -n "$ns" get pods -l "$selector" -o name 2>/dev/null); do explain_pod "$ns" "${pod#pod/}"; done
}

# explain_portforward NS NAME: its status, its Events, and its helper pod.
explain_portforward() {
  local ns=$1 name=$2 helper helper_ns
  _hr "portforward $ns/$name"
  kubectl -n "$ns" get portforward "$name" -o wide >&2 || return 0
  kubectl -n "$ns" get portforward "$name" -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' >&2 || true
  kubectl -n "$ns" get events --field-selector "involvedObject.name=$name,involvedObject.kind=PortForward" --sort-by=.lastTimestamp 2>/dev/null | tail -n 8 >&2 || true
  helper=$(kubectl -n "$ns" get portforward "$name" -o jsonpath='{.status.helper.pod}' 2>/dev/null || true)
  helper_ns=$(kubectl -n "$ns" get portforward "$name" -o jsonpath='{.status.helper.namespace}' 2>/dev/null || true)
  if [ -n "$helper" ]; then explain_pod "$helper_ns" "$helper"; fi
  explain_pods portforward-system app.kubernetes.io/component=operator
  printf 'look further: kubectl -n %s describe portforward %s\n' "$ns" "$name" >&2
}

# fail_with WHAT LOGS: the verdict, then exit 1.
fail_with() {
  printf '\n\033[1;31mFAILED: %s\033[0m\n' "$1" >&2
  [ -z "${2:-}" ] || printf 'where to look: %s\n' "$2" >&2
  exit 1
}
