#!/usr/bin/env bash
# Builds the images under images/ without Docker or a registry, as OCI archives in $CACHE/images,
# and imports them into the node's containerd as localhost/NAME:dev.
#   images.sh build [NAME...]    build (cached by a hash of the inputs)
#   images.sh import [NAME...]   build if needed, then import into the running cluster
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGES_DIR="$ROOT/images"
OUT="$CACHE/images"
mkdir -p "$OUT"

# The machine's Debian mirror, read at run time from its apt sources.
debian_mirror() {
  sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1
}

# Image name -> the file tag in the cache: changes whenever an input changes.
inputs_hash() {
  local name=$1
  {
    find "$IMAGES_DIR/$name" -type f -print0 | sort -z | xargs -0 sha256sum
    if [ "$name" = pause ]; then sha256sum "$CLUSTER_DIR"/gobuild/pause/*; fi
    # helper: images/helper/relay/ (pf-relay's source) is covered by the find above; the Go version too
    if [ "$name" = helper ]; then go env GOVERSION; fi
    if [ "$name" = coredns ]; then echo "$COREDNS_VERSION"; sha256sum "$CLUSTER_DIR"/gobuild/coredns/*; fi
    if [ "$name" = operator ]; then
      (cd "$ROOT" && find src package.json package-lock.json tsconfig.json -type f -print0 | sort -z | xargs -0 sha256sum)
    fi
  } | sha256sum | cut -c1-16
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# The image's name (localhost/NAME:dev): image.env's NAME, or the folder's name.
image_name() { (NAME=$1; source "$IMAGES_DIR/$1/image.env"; echo "$NAME"); }

# Writes an OCI image layout for one uncompressed layer and tars it to $out.
write_oci_archive() {
  local name=$1 layer=$2 out=$3 entrypoint=$4 cmd=$5 user=$6
  local dir; dir=$(mktemp -d)
  mkdir -p "$dir/blobs/sha256"
  local layer_sha; layer_sha=$(sha "$layer")
  mv "$layer" "$dir/blobs/sha256/$layer_sha"
  local layer_size; layer_size=$(stat -c %s "$dir/blobs/sha256/$layer_sha")
  cat >"$dir/config.json" <<JSON
{"architecture":"amd64","os":"linux",
 "config":{"Entrypoint":$entrypoint,"Cmd":$cmd,"User":"$user","WorkingDir":"/",
   "Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
 "rootfs":{"type":"layers","diff_ids":["sha256:$layer_sha"]}}
JSON
  local cfg_sha; cfg_sha=$(sha "$dir/config.json")
  local cfg_size; cfg_size=$(stat -c %s "$dir/config.json")
  mv "$dir/config.json" "$dir/blobs/sha256/$cfg_sha"
  cat >"$dir/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$cfg_sha","size":$cfg_size},
 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:$layer_sha","size":$layer_size}]}
JSON
  local man_sha; man_sha=$(sha "$dir/manifest.json")
  local man_size; man_size=$(stat -c %s "$dir/manifest.json")
  mv "$dir/manifest.json" "$dir/blobs/sha256/$man_sha"
  cat >"$dir/index.json" <<JSON
{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "digest":"sha256:$man_sha","size":$man_size,
 "annotations":{"io.containerd.image.name":"localhost/$name:dev","org.opencontainers.image.ref.name":"dev"}}]}
JSON
  echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
  tar -C "$dir" -cf "$out.tmp" oci-layout index.json blobs
  mv "$out.tmp" "$out"
  rm -rf "$dir"
}

build_rootfs() {
  local name=$1 rootfs=$2
  local SUITE PACKAGES=""
  # shellcheck disable=SC1090
  source "$IMAGES_DIR/$name/image.env"
  if [ "$SUITE" = none ]; then
    mkdir -p "$rootfs"
  else
    local mirror; mirror=$(debian_mirror)
    [ -n "$mirror" ] || { log "no Debian mirror found in /etc/apt/sources.list.d/debian.sources"; return 1; }
    mmdebstrap --quiet --variant=minbase --include="${PACKAGES// /,}" \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      "$SUITE" "$rootfs" "deb $mirror $SUITE main" >/dev/null
    rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*
  fi
  if [ "$name" = pause ]; then
    (cd "$CLUSTER_DIR/gobuild/pause" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$rootfs/pause" .)
  fi
  if [ "$name" = coredns ]; then cp "$BIN/coredns-$COREDNS_VERSION" "$rootfs/coredns"; fi
  if [ "$name" = helper ]; then # pf-relay, the splice data path's relay: static, standard library only
    mkdir -p "$rootfs/usr/local/bin"
    (cd "$IMAGES_DIR/helper/relay" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$rootfs/usr/local/bin/pf-relay" .)
  fi
  if [ -d "$IMAGES_DIR/$name/rootfs" ]; then cp -a "$IMAGES_DIR/$name/rootfs/." "$rootfs/"; fi
  if [ -x "$IMAGES_DIR/$name/prepare.sh" ]; then "$IMAGES_DIR/$name/prepare.sh" "$rootfs"; fi
}

build_image() {
  local name=$1
  local archive; archive="$OUT/$name-$(inputs_hash "$name").tar"
  if [ -f "$archive" ]; then log "image $name: cached"; echo "$archive"; return; fi
  local work; work=$(mktemp -d "$OUT/build-$name.XXXX")
  step "image $name: build root filesystem" build_rootfs "$name" "$work/rootfs" >&2
  tar -C "$work/rootfs" --numeric-owner -cf "$work/layer.tar" .
  local ENTRYPOINT='[]' CMD='[]' USER=''
  # shellcheck disable=SC1090
  source "$IMAGES_DIR/$name/image.env"
  write_oci_archive "$(image_name "$name")" "$work/layer.tar" "$archive" "$ENTRYPOINT" "${CMD:-[]}" "${USER:-}"
  rm -rf "$work"
  rm -f $(ls "$OUT/$name"-*.tar | grep -v "$archive") 2>/dev/null || true
  log "image $name: $(du -h "$archive" | cut -f1)"
  echo "$archive"
}

import_image() {
  local archive; archive=$(build_image "$1")
  ctr --address "$RUN/containerd.sock" -n k8s.io images import "$archive" >/dev/null
  log "image $1: imported as localhost/$(image_name "$1"):dev"
}

all_images() { for d in "$IMAGES_DIR"/*/; do [ -f "$d/image.env" ] && basename "$d"; done; }

cmd=${1:-build}; shift || true
names=("$@"); [ ${#names[@]} -gt 0 ] || mapfile -t names < <(all_images)
case "$cmd" in
  build) for n in "${names[@]}"; do build_image "$n" >/dev/null; done ;;
  import) for n in "${names[@]}"; do import_image "$n"; done ;;
  *) echo "usage: images.sh build|import [NAME...]" >&2; exit 2 ;;
esac
