#!/usr/bin/env bash
# Builds the images under images/ without Docker or a registry, as OCI archives in $CACHE/images,
# and imports them into the node's containerd as localhost/NAME:dev.
#   images.sh build [NAME...]    build (cached by a hash of the inputs)
#   images.sh import [NAME...]   build if needed, then import into every node of the running cluster
#                                (NODES="1 2": into those nodes only)
#
# An image folder holds image.env (SUITE, PACKAGES, ENTRYPOINT, CMD, USER, NAME, INPUTS), and
# optionally rootfs/ (copied over the root filesystem) and prepare.sh ROOTFS (its own build steps).
# Every step must succeed: a failed or partial build leaves no archive behind, and only a complete
# archive, moved into place as the last step, is ever reused.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGES_DIR=${PF_IMAGES_DIR:-$ROOT/images}
OUT="$CACHE/images"
mkdir -p "$OUT"

# The machine's Debian mirror, read at run time from its apt sources.
debian_mirror() {
  sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1
}

# image.env's settings for one image, in the caller's scope.
load_settings() {
  SUITE=none PACKAGES="" ENTRYPOINT='[]' CMD='[]' USER="" NAME=$1 INPUTS=""
  # shellcheck disable=SC1090
  source "$IMAGES_DIR/$1/image.env"
}

# Image name -> the file tag in the cache: changes whenever an input changes (the image's folder,
# the INPUTS it names, the pinned versions and the Go toolchain that compiles parts of it).
inputs_hash() {
  local name=$1 INPUTS
  load_settings "$name"
  {
    (cd "$IMAGES_DIR/$name" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    if [ -n "$INPUTS" ]; then
      # shellcheck disable=SC2086
      (cd "$ROOT" && find $INPUTS -type f -print0 | sort -z | xargs -0 sha256sum)
    fi
    echo "$K8S_VERSION $ETCD_VERSION $COREDNS_VERSION $(go env GOVERSION) $(go env GOARCH)"
  } | sha256sum | cut -c1-16
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# A cached archive is reused only when it is a complete OCI layout.
complete_archive() { tar -tf "$1" oci-layout index.json >/dev/null 2>&1; }

# Writes an OCI image layout for one uncompressed layer into $dir and tars it to $out.
write_oci_archive() {
  local name=$1 layer=$2 out=$3 dir=$4
  mkdir -p "$dir/blobs/sha256"
  local layer_sha; layer_sha=$(sha "$layer")
  mv "$layer" "$dir/blobs/sha256/$layer_sha"
  local layer_size; layer_size=$(stat -c %s "$dir/blobs/sha256/$layer_sha")
  cat >"$dir/config.json" <<JSON
{"architecture":"$(go env GOARCH)","os":"linux",
 "config":{"Entrypoint":$ENTRYPOINT,"Cmd":${CMD:-[]},"User":"$USER","WorkingDir":"/",
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
  tar -C "$dir" -cf "$out" oci-layout index.json blobs
}

build_rootfs() {
  local name=$1 rootfs=$2
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
  if [ -d "$IMAGES_DIR/$name/rootfs" ]; then cp -a "$IMAGES_DIR/$name/rootfs/." "$rootfs/"; fi
  if [ -f "$IMAGES_DIR/$name/prepare.sh" ]; then
    BIN=$BIN COREDNS_VERSION=$COREDNS_VERSION bash "$IMAGES_DIR/$name/prepare.sh" "$rootfs" ||
      { log "image $name: prepare.sh failed (exit $?): nothing is cached"; return 1; }
  fi
}

# Sets ARCHIVE to the image's archive, building it unless a complete one is cached.
build_image() {
  local name=$1
  ARCHIVE="$OUT/$name-$(inputs_hash "$name").tar"
  if complete_archive "$ARCHIVE"; then log "image $name: cached"; return; fi
  rm -f "$ARCHIVE"
  load_settings "$name"
  local work; work=$(mktemp -d "$OUT/build-$name.XXXX")
  # Whatever happens next, the work folder goes; only the final mv makes an archive.
  trap 'rm -rf "'"$work"'"' EXIT
  step "image $name: build root filesystem" build_rootfs "$name" "$work/rootfs"
  tar -C "$work/rootfs" --numeric-owner -cf "$work/layer.tar" .
  write_oci_archive "$NAME" "$work/layer.tar" "$work/image.tar" "$work/oci"
  complete_archive "$work/image.tar"
  find "$OUT" -maxdepth 1 -name "$name-*.tar" -delete # older builds of this image
  mv "$work/image.tar" "$ARCHIVE"
  rm -rf "$work"; trap - EXIT
  log "image $name: $(du -h "$ARCHIVE" | cut -f1)"
}

import_image() {
  build_image "$1"
  local NAME n; load_settings "$1"
  for n in ${NODES:-$(cat "$RUN/nodes")}; do
    ctr --address "$(node_run "$n")/containerd.sock" -n k8s.io images import "$ARCHIVE" >/dev/null
  done
  log "image $1: imported as localhost/$NAME:dev into node(s) ${NODES:-$(cat "$RUN/nodes" | xargs)}"
}

all_images() { for d in "$IMAGES_DIR"/*/; do [ -f "$d/image.env" ] && basename "$d"; done; }

cmd=${1:-build}; shift || true
names=("$@"); [ ${#names[@]} -gt 0 ] || mapfile -t names < <(all_images)
case "$cmd" in
  build) for n in "${names[@]}"; do build_image "$n"; done ;;
  import) for n in "${names[@]}"; do import_image "$n"; done ;;
  *) echo "usage: images.sh build|import [NAME...]" >&2; exit 2 ;;
esac
