#!/usr/bin/env bash
# Make Debian's Chromium available for the dashboard's browser test
# (test/browser/dashboard.browser.test.ts), idempotently.
#
# The test drives /usr/bin/chromium with playwright-core, which downloads no browser of its
# own (this machine reaches no browser download site anyway; Debian's packages it does).
# Installed with its recommended packages: they bring the fonts the page and its screenshot
# are drawn with.
#
# Usage: scripts/ensure-chromium.sh
# Exit: 0 when chromium runs at the end, 3 when it does not (the reason is printed).
# Env:  RATIFY_CHROMIUM (default /usr/bin/chromium): the binary the test will use.
set -uo pipefail

CHROMIUM="${RATIFY_CHROMIUM:-/usr/bin/chromium}"
say() { echo "ensure-chromium: $*"; }
give_up() { say "NO CHROMIUM: $*"; exit 3; }

version() { "$CHROMIUM" --version 2>/dev/null | head -1; }

if [[ -x "$CHROMIUM" ]] && [[ -n "$(version)" ]]; then say "$(version) at $CHROMIUM"; exit 0; fi
[[ "$CHROMIUM" == /usr/bin/chromium ]] || give_up "$CHROMIUM (RATIFY_CHROMIUM) does not run; this script installs only Debian's /usr/bin/chromium"
command -v apt-get >/dev/null || give_up "apt-get not found"
[[ "$(id -u)" -eq 0 ]] || give_up "not root, cannot apt-get install chromium"

# apt-get update costs ~10-30 s; do it only when the package is unknown to the local lists.
cand="$(apt-cache policy chromium 2>/dev/null | awk '/Candidate:/ {print $2}')"
if [[ -z "$cand" || "$cand" == "(none)" ]]; then
  say "apt-get update (package lists do not know chromium)"
  apt-get update -qq >/dev/null 2>&1 || give_up "apt-get update failed"
fi
say "apt-get install chromium"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/tmp/ratify-chromium-install.log 2>&1 \
  || { tail -5 /tmp/ratify-chromium-install.log; give_up "apt-get install chromium failed, see /tmp/ratify-chromium-install.log"; }
[[ -n "$(version)" ]] || give_up "chromium was installed but $CHROMIUM --version does not answer"
say "$(version) at $CHROMIUM"
