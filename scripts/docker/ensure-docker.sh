#!/usr/bin/env bash
# Make a Docker engine reachable on this machine, from bare, idempotently.
#
# Why this exists: CI machines here have only the docker *client*; no engine runs and no
# container registry is reachable. Debian's docker.io brings dockerd (+ containerd, runc),
# which starts fine as root. The script never fails loudly on purpose: the caller decides
# whether a missing engine is fatal (CI is not: the container suite then skips and says why).
#
# Usage: scripts/docker/ensure-docker.sh [--with-compose]
#   --with-compose  also install Debian's docker-compose (v1.29, the only compose in bookworm;
#                   the v2 plugin is not packaged there) for `docker-compose up` by hand.
# Exit: 0 when `docker info` works at the end, 3 when it does not (the reason is printed).
# Env:  RATIFY_DOCKERD_LOG (default /var/log/ratify-dockerd.log),
#       RATIFY_DOCKERD_PIDFILE (default /var/run/ratify-dockerd.pid),
#       RATIFY_DOCKERD_WAIT_S (default 60): bound on waiting for the engine to answer.
set -uo pipefail

LOG_FILE="${RATIFY_DOCKERD_LOG:-/var/log/ratify-dockerd.log}"
PID_FILE="${RATIFY_DOCKERD_PIDFILE:-/var/run/ratify-dockerd.pid}"
WAIT_S="${RATIFY_DOCKERD_WAIT_S:-60}"
WITH_COMPOSE=0
for arg in "$@"; do
  case "$arg" in
    --with-compose) WITH_COMPOSE=1 ;;
    *) echo "ensure-docker: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

say() { echo "ensure-docker: $*"; }
give_up() { say "NO DOCKER ENGINE: $*"; say "container tests will be skipped."; exit 3; }

engine_answers() { docker info >/dev/null 2>&1; }

# apt-get update costs ~10-30 s; do it only when the package is unknown to the local lists.
apt_has_candidate() {
  local cand
  cand="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  [[ -n "$cand" && "$cand" != "(none)" ]]
}

apt_install() {
  local pkgs=("$@") missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  command -v apt-get >/dev/null || { say "apt-get not found"; return 1; }
  [[ "$(id -u)" -eq 0 ]] || { say "not root, cannot apt-get install ${missing[*]}"; return 1; }
  local p
  for p in "${missing[@]}"; do
    if ! apt_has_candidate "$p"; then
      say "apt-get update (package lists do not know $p)"
      apt-get update -qq >/dev/null 2>&1 || { say "apt-get update failed"; return 1; }
      break
    fi
  done
  say "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/tmp/ratify-apt-install.log 2>&1 || { say "apt-get install failed, see /tmp/ratify-apt-install.log"; tail -5 /tmp/ratify-apt-install.log; return 1; }
}

# A dockerd of ours may still be starting from an earlier call: wait for it instead of racing.
dockerd_running() { [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE" 2>/dev/null)" 2>/dev/null; }

wait_for_engine() {
  local deadline=$((SECONDS + WAIT_S))
  while (( SECONDS < deadline )); do
    engine_answers && return 0
    dockerd_running || return 1
    sleep 1
  done
  return 1
}

start_dockerd() {
  local extra=("$@")
  say "starting dockerd${extra[*]:+ ${extra[*]}} (log: $LOG_FILE)"
  # setsid: the engine must outlive this script (the test run comes after it).
  setsid dockerd --pidfile "$PID_FILE" "${extra[@]}" >>"$LOG_FILE" 2>&1 </dev/null &
  # dockerd writes the pidfile itself; wait for it briefly so dockerd_running is meaningful.
  for _ in $(seq 1 20); do [[ -f "$PID_FILE" ]] && break; sleep 0.25; done
}

main() {
  if [[ $WITH_COMPOSE -eq 1 ]] && ! command -v docker-compose >/dev/null && ! docker compose version >/dev/null 2>&1; then
    apt_install docker-compose || say "docker-compose could not be installed (continuing)"
  fi
  if engine_answers; then say "engine already answers ($(docker info -f '{{.ServerVersion}}' 2>/dev/null))"; exit 0; fi
  if dockerd_running; then
    say "dockerd (pid $(cat "$PID_FILE")) is starting; waiting up to ${WAIT_S}s"
    wait_for_engine && { say "engine answers"; exit 0; }
    give_up "dockerd (pid $(cat "$PID_FILE")) runs but does not answer; see $LOG_FILE"
  fi
  if ! command -v dockerd >/dev/null; then
    apt_install docker.io || give_up "could not install Debian's docker.io"
  fi
  command -v docker >/dev/null || give_up "no docker client on PATH"
  [[ "$(id -u)" -eq 0 ]] || give_up "dockerd must be started as root (uid is $(id -u))"

  rm -f "$PID_FILE"
  start_dockerd
  if wait_for_engine; then say "engine answers ($(docker info -f '{{.ServerVersion}}' 2>/dev/null))"; exit 0; fi
  # Some sandboxes lack the netfilter modules dockerd wants. Without iptables, containers on a
  # user-defined network still reach each other (that is all the tests need); only NAT to the
  # outside and port publishing through iptables go away (docker-proxy still publishes ports).
  say "dockerd did not come up; last log lines:"; tail -n 5 "$LOG_FILE" | sed 's/^/  /'
  if dockerd_running; then kill "$(cat "$PID_FILE")" 2>/dev/null; sleep 2; fi
  rm -f "$PID_FILE"
  start_dockerd --iptables=false --ip6tables=false
  if wait_for_engine; then say "engine answers without iptables"; exit 0; fi
  tail -n 5 "$LOG_FILE" | sed 's/^/  /'
  give_up "dockerd did not answer within ${WAIT_S}s, see $LOG_FILE"
}

main
