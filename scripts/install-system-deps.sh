#!/usr/bin/env bash
# Installs the Debian packages listed in requirements-system.txt when running as root and any is missing.
# Non-root users get a note; the tests that need them skip with that reason.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f requirements-system.txt ] || exit 0
pkgs=$(grep -vE '^\s*(#|$)' requirements-system.txt | tr '\n' ' ')
[ -n "$pkgs" ] || exit 0
missing=()
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "note: not root, cannot install Debian packages: ${missing[*]} (tests needing them will skip)"; exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
