#!/usr/bin/env bash
# Builds Kubernetes (one multi-call binary), etcd, CoreDNS, kube-router and helm from Go modules into
# $CACHE/bin.
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
    env CGO_ENABLED=0 go build -v -trimpath -ldflags "$ldflags" -o "$BIN/k8s-$K8S_VERSION.partial" .)
  mv "$BIN/k8s-$K8S_VERSION.partial" "$BIN/k8s-$K8S_VERSION" # only a finished build is ever found
  for name in kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl; do
    ln -sfn "k8s-$K8S_VERSION" "$BIN/$name"
  done
}

# build_module NAME MODULE VERSION: a wrapper module around gobuild/NAME/main.go that requires
# MODULE at VERSION, built into $BIN/NAME-VERSION (for etcd and CoreDNS: no replace directives needed).
build_module() {
  local name=$1 module=$2 version=$3 dir="$CACHE/src/$1"
  rm -rf "$dir"; mkdir -p "$dir"
  cp "$CLUSTER_DIR/gobuild/$name/main.go" "$dir/"
  printf 'module pfdev/%s\n\ngo 1.24.0\n\nrequire %s %s\n' "$name" "$module" "$version" >"$dir/go.mod"
  (cd "$dir" && go mod tidy)
  (cd "$dir" && go_build_with_progress "$name" \
    env CGO_ENABLED=0 go build -v -trimpath -ldflags "-s -w" -o "$BIN/$name-$version.partial" .)
  mv "$BIN/$name-$version.partial" "$BIN/$name-$version"
  ln -sfn "$name-$version" "$BIN/$name"
}

# kube-router, like build_module but without `go mod tidy`: docker v25 (a dependency) has no go.mod,
# so tidy would resolve its test imports too and float ~20 modules to @latest (and raise the go line).
# -mod=mod only fills in go.sum and keeps exactly the set kube-router pins.
build_kube_router() {
  local version=$KUBE_ROUTER_VERSION dir="$CACHE/src/kube-router"
  local pkg=github.com/cloudnativelabs/kube-router/v2/pkg/version
  rm -rf "$dir"; mkdir -p "$dir"
  cp "$CLUSTER_DIR/gobuild/kube-router/main.go" "$dir/"
  printf 'module pfdev/kube-router\n\ngo 1.24.0\n\nrequire github.com/cloudnativelabs/kube-router/v2 %s\n' "$version" >"$dir/go.mod"
  (cd "$dir" && go_build_with_progress kube-router env CGO_ENABLED=0 go build -mod=mod -v -trimpath \
    -ldflags "-s -w -X $pkg.Version=$version -X $pkg.BuildDate=2026-01-01T00:00:00Z" \
    -o "$BIN/kube-router-$version.partial" .)
  mv "$BIN/kube-router-$version.partial" "$BIN/kube-router-$version"
  ln -sfn "kube-router-$version" "$BIN/kube-router"
}

# helm: its own module's main package, built as its release is (no wrapper: nothing to pin beside it).
build_helm() {
  local version=$HELM_VERSION out="$CACHE/src/helm-bin"
  rm -rf "$out"; mkdir -p "$out"
  go_build_with_progress helm env CGO_ENABLED=0 GOBIN="$out" go install -v -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$version" "helm.sh/helm/v3/cmd/helm@$version"
  mv "$out/helm" "$BIN/helm-$version"
  ln -sfn "helm-$version" "$BIN/helm"
}

if [ -x "$BIN/coredns-$COREDNS_VERSION" ]; then log "coredns $COREDNS_VERSION: cached"
else step "build coredns $COREDNS_VERSION from Go modules" build_module coredns github.com/coredns/coredns "$COREDNS_VERSION"; fi
if [ -x "$BIN/etcd-$ETCD_VERSION" ]; then log "etcd $ETCD_VERSION: cached"
else step "build etcd $ETCD_VERSION from Go modules" build_module etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"; fi
if [ -x "$BIN/k8s-$K8S_VERSION" ]; then log "kubernetes $K8S_VERSION: cached"
else step "build kubernetes $K8S_VERSION from Go modules (cold: tens of minutes)" build_k8s; fi
if [ -x "$BIN/kube-router-$KUBE_ROUTER_VERSION" ]; then log "kube-router $KUBE_ROUTER_VERSION: cached"
else step "build kube-router $KUBE_ROUTER_VERSION from Go modules (cold: minutes)" build_kube_router; fi
if [ -x "$BIN/helm-$HELM_VERSION" ]; then log "helm $HELM_VERSION: cached"
else step "build helm $HELM_VERSION from Go modules (cold: minutes)" build_helm; fi
