#!/usr/bin/env bash
# Dependency policy check (`make deny`, part of `make lint`): `cargo deny check licenses bans sources` against
# deny.toml at the workspace root — permissive licenses only, no OpenSSL, crates only from crates.io.
#
# cargo-deny is installed once, from crates.io, into the cache outside the clone, keyed by version:
#   ${MESHGLASS_CACHE:-$HOME/.cache/meshglass}/cargo-deny-<version>/bin/cargo-deny
# and reused from there (the first install compiles it: a few minutes on 2 cores).
set -euo pipefail

CARGO_DENY_VERSION=0.20.2
CARGO=${CARGO:-cargo}

cache="${MESHGLASS_CACHE:-$HOME/.cache/meshglass}"
root="$cache/cargo-deny-$CARGO_DENY_VERSION"
if [ ! -x "$root/bin/cargo-deny" ]; then
  echo "deny: installing cargo-deny $CARGO_DENY_VERSION into $root (once)" >&2
  mkdir -p "$cache"
  # Into a scratch root first, so that an interrupted install never leaves a cache entry that looks complete;
  # its own target dir, so that the workspace's is not filled with cargo-deny's build.
  tmp="$(mktemp -d "$cache/.cargo-deny-$CARGO_DENY_VERSION.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  CARGO_TARGET_DIR="$tmp/target" "$CARGO" install --locked --quiet --root "$tmp/root" "cargo-deny@$CARGO_DENY_VERSION"
  rm -rf "$root"
  mv "$tmp/root" "$root"
  trap - EXIT
  rm -rf "$tmp"
fi

cd "$(dirname "$0")/../.."
exec "$root/bin/cargo-deny" --locked check licenses bans sources
