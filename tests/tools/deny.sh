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

. "$(dirname "$0")/cargo-install-cached.sh"
cargo_install_cached cargo-deny "$CARGO_DENY_VERSION"

cd "$(dirname "$0")/../.."
exec cargo-deny --locked check licenses bans sources
