#!/usr/bin/env bash
# `apt-install.sh WHO PACKAGE...`: installs Debian packages with apt-get (through sudo when not root),
# without recommends. WHO prefixes the messages. Fails with advice when apt-get or root rights are missing.
# Used by the prereqs scripts (tests/tools/prereqs.sh, api-server/ui/scripts/prereqs.sh).
set -euo pipefail
who=$1; shift
if ! command -v apt-get >/dev/null 2>&1; then
  echo "$who: $* missing and apt-get is not available; install them by hand" >&2
  exit 2
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
    echo "$who: $* missing; run 'apt-get install $*' as root" >&2
    exit 2
  fi
fi
echo "$who: installing Debian's $* ..." >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
