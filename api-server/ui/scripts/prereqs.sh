#!/usr/bin/env bash
# Installs what the web UI's build and browser tests need when it is missing: Node.js with npm (to build), and
# Debian's chromium (driven by playwright-core; `npx playwright install` cannot download browsers here).
# Quiet when everything is already there.
set -euo pipefail
pkgs=()
command -v chromium >/dev/null 2>&1 || pkgs+=(chromium)
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
[ "${#pkgs[@]}" = 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ui prereqs: ${pkgs[*]} missing and apt-get is not available; install them by hand" >&2
  exit 2
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
    echo "ui prereqs: ${pkgs[*]} missing; run 'apt-get install ${pkgs[*]}' as root" >&2
    exit 2
  fi
fi
echo "ui prereqs: installing Debian's ${pkgs[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "ui prereqs: chromium still missing" >&2; exit 1; }
echo "ui prereqs: $(chromium --version 2>/dev/null | head -1) installed" >&2
