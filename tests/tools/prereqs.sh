#!/usr/bin/env bash
# Installs the Debian packages the tests use when they are missing: prometheus (prometheus +
# promtool), lua5.4 (runs the Argo CD health check of examples/gitops/). Quiet when everything is already there.
set -euo pipefail
missing=()
for cmd in prometheus promtool lua5.4; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
done
[ "${#missing[@]}" = 0 ] && exit 0
packages=()
case " ${missing[*]} " in *" prometheus "*|*" promtool "*) packages+=(prometheus) ;; esac
case " ${missing[*]} " in *" lua5.4 "*) packages+=(lua5.4) ;; esac

# --no-install-recommends: no node exporter or services beyond what the tests run.
"$(dirname "$0")/apt-install.sh" prereqs "${packages[@]}"
# The package enables a system service; the tests start their own instances.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
for cmd in prometheus promtool lua5.4; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "prereqs: $cmd still missing after installing ${packages[*]}" >&2; exit 1; }
done
echo "prereqs: prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') installed" >&2
