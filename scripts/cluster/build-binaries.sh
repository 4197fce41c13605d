#!/usr/bin/env bash
# Builds Kubernetes (one multi-call binary) and etcd from Go modules into $CACHE/bin.
# Rebuilds only when the pinned version changes.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "$BIN" "$CACHE/src"

# go build -v prints one line per compiled package: show the count every 20 s.
go_build_with_progress() {
  local label=$1; shift
  local out="$CACHE/src/$label.build.log"
  : >"$out"
  ( while sleep 20; do log "   $label: $(wc -l <"$out") packages compiled so far"; done ) &
  local ticker=$!
  local rc=0
  "$@" >>"$out" 2>&1 || rc=$?
  kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null || true
  if [ "$rc" != 0 ]; then tail -40 "$out" >&2; return "$rc"; fi
}

# A wrapper module: k8s.io/kubernetes maps its staging modules with replace => ./staging/...,
# which a dependent module must repeat, pinned to the matching v0.x release.
write_k8s_module() {
  local dir=$1 gomod staging_version="v0.${K8S_VERSION#v1.}"
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module pfdev/k8s"
    echo
    echo "go 1.24.0"
    echo
    grep '^godebug' "$gomod"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$staging_version"'#p' "$gomod"
    echo ")"
  } >"$dir/go.mod"
}

build_k8s() {
  local dir="$CACHE/src/k8s"
  rm -rf "$dir"; mkdir -p "$dir"
  cp "$CLUSTER_DIR/gobuild/k8s/main.go" "$dir/"
  write_k8s_module "$dir"
  (cd "$dir" && go mod tidy >/dev/null 2>&1 || (cd "$dir" && go mod tidy))
  local v=$K8S_VERSION minor
  minor=${v#v1.}; minor=${minor%%.*}
  local ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
    ldflags+=" -X $pkg.buildDate=2026-01-01T00:00:00Z"
  done
  (cd "$dir" && go_build_with_progress kubernetes \
    env CGO_ENABLED=0 go build -v -trimpath -ldflags "$ldflags" -o "$BIN/k8s-$K8S_VERSION" .)
  for name in kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl; do
    ln -sfn "k8s-$K8S_VERSION" "$BIN/$name"
  done
}

build_etcd() {
  local dir="$CACHE/src/etcd"
  rm -rf "$dir"; mkdir -p "$dir"
  cp "$CLUSTER_DIR/gobuild/etcd/main.go" "$dir/"
  printf 'module pfdev/etcd\n\ngo 1.24.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$dir/go.mod"
  (cd "$dir" && go mod tidy)
  (cd "$dir" && go_build_with_progress etcd \
    env CGO_ENABLED=0 go build -v -trimpath -ldflags "-s -w" -o "$BIN/etcd-$ETCD_VERSION" .)
  ln -sfn "etcd-$ETCD_VERSION" "$BIN/etcd"
}

build_coredns() {
  local dir="$CACHE/src/coredns"
  rm -rf "$dir"; mkdir -p "$dir"
  cp "$CLUSTER_DIR/gobuild/coredns/main.go" "$dir/"
  printf 'module pfdev/coredns\n\ngo 1.24.0\n\nrequire github.com/coredns/coredns %s\n' "$COREDNS_VERSION" >"$dir/go.mod"
  (cd "$dir" && go mod tidy)
  (cd "$dir" && go_build_with_progress coredns \
    env CGO_ENABLED=0 go build -v -trimpath -ldflags "-s -w" -o "$BIN/coredns-$COREDNS_VERSION" .)
}

if [ -x "$BIN/coredns-$COREDNS_VERSION" ]; then log "coredns $COREDNS_VERSION: cached"
else step "build coredns $COREDNS_VERSION from Go modules" build_coredns; fi
if [ -x "$BIN/etcd-$ETCD_VERSION" ]; then log "etcd $ETCD_VERSION: cached"
else step "build etcd $ETCD_VERSION from Go modules" build_etcd; fi
if [ -x "$BIN/k8s-$K8S_VERSION" ]; then log "kubernetes $K8S_VERSION: cached"
else step "build kubernetes $K8S_VERSION from Go modules (cold: tens of minutes)" build_k8s; fi
