#!/usr/bin/env bash
# Build local base images without any container registry, from this machine's own Node runtime.
#
#   ratify-base:local   runtime base: node + the shared libraries it and the native addons
#                       (classic-level, msgpackr-extract) need, /etc/passwd with uid 10001
#                       'ratify', /tmp, /data. No shell, no package manager.
#   ratify-build:local  (with --with-build) ratify-base plus npm, busybox's sh (npm runs
#                       lifecycle scripts through sh) and the host's CA bundle + npmrc, so the
#                       Dockerfile's compiling stage can run `npm ci` where containers reach
#                       the npm registry.
#
# Why: no registry is reachable here, so `FROM node:20-bookworm-slim` cannot be pulled. A root
# filesystem assembled from the host and loaded with `docker import` needs nothing from outside.
# Native addons are prebuilt for glibc linux-x64; they work because the host's glibc comes along.
#
# Idempotent: each image carries a label with a fingerprint of its inputs (node binary, npm,
# busybox, this script); an image whose label matches is kept.
# Usage: scripts/docker/build-base-image.sh [--with-build] [--force]
set -euo pipefail

WITH_BUILD=0
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --with-build) WITH_BUILD=1 ;;
    --force) FORCE=1 ;;
    *) echo "build-base-image: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

BASE_TAG="${RATIFY_BASE_IMAGE:-ratify-base:local}"
BUILD_TAG="${RATIFY_BUILD_IMAGE:-ratify-build:local}"
LABEL_KEY="org.ratify.base.fingerprint"
RUN_UID=10001
say() { echo "build-base-image: $*"; }

NODE_BIN="$(readlink -f "$(command -v node)")"
SCRIPT_SHA="$(sha256sum "$0" | cut -c1-16)"
NODE_SHA="$(sha256sum "$NODE_BIN" | cut -c1-16)"

image_fingerprint() { docker image inspect -f "{{index .Config.Labels \"$LABEL_KEY\"}}" "$1" 2>/dev/null || true; }

# Copies a file to the same absolute path inside the root filesystem, following symlinks,
# so the dynamic loader finds it exactly where ldd saw it.
copy_into() {
  local root="$1" src="$2"
  mkdir -p "$root$(dirname "$src")"
  cp -L "$src" "$root$src"
}

# Every shared library an ELF file needs, as absolute paths (ldd's "=> /path" and the loader).
needed_libs() {
  ldd "$1" | awk '/=> \// {print $3} /^[ \t]*\/[^ ]+ \(/ {print $1}'
}

write_etc() {
  local root="$1"
  mkdir -p "$root/etc"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nratify:x:%d:%d:ratify:/home/ratify:/sbin/nologin\n' \
    "$RUN_UID" "$RUN_UID" >"$root/etc/passwd"
  printf 'root:x:0:\nratify:x:%d:\n' "$RUN_UID" >"$root/etc/group"
  # glibc falls back to odd defaults without it; peers are found by container name via DNS.
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
}

assemble_runtime_rootfs() {
  local root="$1" lib
  mkdir -p "$root/usr/local/bin" "$root/tmp" "$root/data" "$root/home/ratify" "$root/app" "$root/root"
  chmod 1777 "$root/tmp"
  chown "$RUN_UID:$RUN_UID" "$root/data" "$root/home/ratify"
  cp "$NODE_BIN" "$root/usr/local/bin/node"
  # Native addons need libstdc++/libgcc_s/libm beyond what node itself needs; librt for some.
  for lib in $(needed_libs "$NODE_BIN") /lib/x86_64-linux-gnu/librt.so.1; do
    [[ -e "$lib" ]] && copy_into "$root" "$lib"
  done
  write_etc "$root"
}

import_rootfs() {
  local root="$1" tag="$2" fingerprint="$3"
  tar -C "$root" --numeric-owner -c . | docker import \
    --change "ENV PATH=/usr/local/bin:/usr/bin:/bin" \
    --change "LABEL $LABEL_KEY=$fingerprint" \
    --change "WORKDIR /app" \
    - "$tag" >/dev/null
  say "imported $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
}

build_runtime_base() {
  local fingerprint="node-$NODE_SHA.script-$SCRIPT_SHA"
  if [[ $FORCE -eq 0 && "$(image_fingerprint "$BASE_TAG")" == "$fingerprint" ]]; then
    say "$BASE_TAG is up to date ($fingerprint)"; return 0
  fi
  local root; root="$(mktemp -d /tmp/ratify-rootfs.XXXXXX)"
  trap 'rm -rf "$root"' RETURN
  assemble_runtime_rootfs "$root"
  import_rootfs "$root" "$BASE_TAG" "$fingerprint"
}

ensure_busybox() {
  [[ -x /bin/busybox ]] && return 0
  if ! apt-cache policy busybox-static 2>/dev/null | grep -q 'Candidate: [0-9]'; then apt-get update -qq >/dev/null; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static >/dev/null
}

build_build_base() {
  ensure_busybox
  local npm_dir; npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  local npm_ver; npm_ver="$(node "$npm_dir/bin/npm-cli.js" --version)"
  local bb_sha; bb_sha="$(sha256sum /bin/busybox | cut -c1-16)"
  local fingerprint="node-$NODE_SHA.npm-$npm_ver.busybox-$bb_sha.script-$SCRIPT_SHA"
  if [[ $FORCE -eq 0 && "$(image_fingerprint "$BUILD_TAG")" == "$fingerprint" ]]; then
    say "$BUILD_TAG is up to date ($fingerprint)"; return 0
  fi
  local root; root="$(mktemp -d /tmp/ratify-rootfs.XXXXXX)"
  trap 'rm -rf "$root"' RETURN
  assemble_runtime_rootfs "$root"
  mkdir -p "$root/bin" "$root/usr/bin" "$root/usr/local/lib/node_modules" "$root/etc/ssl/certs"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in sh env cat ls mkdir rm cp mv ln chmod chown true false test echo; do
    ln -sf busybox "$root/bin/$applet"
  done
  ln -sf /bin/env "$root/usr/bin/env"   # npm-cli.js starts with #!/usr/bin/env node
  cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  # The host reaches the npm registry with this CA bundle and config; containers need the same.
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  # npm's global config for prefix /usr/local; never the user's ~/.npmrc (it may hold tokens).
  mkdir -p "$root/usr/local/etc"
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\naudit=false\nfund=false\nupdate-notifier=false\n' \
    >"$root/usr/local/etc/npmrc"
  import_rootfs "$root" "$BUILD_TAG" "$fingerprint"
}

docker info >/dev/null 2>&1 || { say "no Docker engine answers (run scripts/docker/ensure-docker.sh)"; exit 3; }
build_runtime_base
[[ $WITH_BUILD -eq 1 ]] && build_build_base
exit 0
