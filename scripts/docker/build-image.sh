#!/usr/bin/env bash
# Build the Ratify image (default tag ratify:local) from cluster/Dockerfile.
#
# Default (this machine, CI): no container registry, so the base images are made locally
# first (scripts/docker/build-base-image.sh) and passed as build arguments. The compiling
# stage runs `npm ci` inside a container, which needs the npm registry (reachable here).
# With --registry-base the Dockerfile's own defaults (node:20-bookworm-slim) are used, for
# machines that can pull images.
#
# Usage: scripts/docker/build-image.sh [--registry-base] [--tag NAME]
# Exit: 0 built, 3 no engine, other: the build failed (docker's output is shown).
set -euo pipefail
cd "$(dirname "$0")/../.."

TAG="${RATIFY_IMAGE:-ratify:local}"
LOCAL_BASE=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --registry-base) LOCAL_BASE=0 ;;
    --tag) TAG="$2"; shift ;;
    *) echo "build-image: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

docker info >/dev/null 2>&1 || { echo "build-image: no Docker engine answers (run scripts/docker/ensure-docker.sh)"; exit 3; }

# A fingerprint of what goes into the image, so tests can tell a stale image from a fresh one.
source_hash() {
  { find src examples scripts -type f -not -path 'scripts/docker/*' 2>/dev/null; \
    echo package.json; echo package-lock.json; echo tsconfig.json; } \
    | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16
}

# --network host: the compiling stage's `npm ci` then reaches the registry exactly as the host
# does, even where dockerd runs without iptables (no NAT for containers).
args=(--force-rm --network host -f cluster/Dockerfile -t "$TAG" --label "org.ratify.source-hash=$(source_hash)")
if [[ $LOCAL_BASE -eq 1 ]]; then
  scripts/docker/build-base-image.sh --with-build
  args+=(--build-arg BASE_IMAGE=ratify-base:local --build-arg BUILD_IMAGE=ratify-build:local)
fi

log="$(mktemp /tmp/ratify-image-build.XXXXXX.log)"
echo "build-image: docker build ${args[*]} . (log: $log, kept if the build fails)"
# The classic builder prints a deprecation banner on every build; keep the output but quiet.
if ! docker build "${args[@]}" . >"$log" 2>&1; then
  echo "build-image: FAILED; last lines of $log:"; tail -n 30 "$log" | sed 's/^/  /'; exit 1
fi
# Kept only when the build failed (above): every CI run builds, and /tmp is not ours to fill.
rm -f "$log"
# Earlier builds of the image, now untagged, only take disk space (build-stage layers stay as cache).
docker image prune -f --filter label=org.ratify.source-hash >/dev/null 2>&1 || true
echo "build-image: built $TAG ($(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
