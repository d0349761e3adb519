#!/usr/bin/env bash
# Import-cycle check (`make acyclic`, part of `make lint`).
#
# What it checks: in every library crate of the workspace (each `cargo metadata` workspace member with a
# lib target, so that a new crate is never forgotten), the modules' dependencies form no cycle — no module
# `a` that depends on `b` while `b`, directly or through others, depends on `a`. Such a cycle is the sign of a
# module that is both a front door and the home of shared types; the fix is to move the shared part into a
# module of its own. On failure it names the crate and the modules of each cycle, and exits 1.
#
# How: cargo-modules (rust-analyzer based) prints the crate's graph of items with their "uses" edges
# (`cargo modules dependencies --lib`); each item is folded into the module that holds it, and coreutils'
# `tsort` finds the cycles among the modules. Not counted as a dependency: a module's edges into its own
# submodules (a parent re-exporting or calling its children is their facade, so `lib.rs` may hold the crate's
# Error while re-exporting the modules that use it). cargo-modules' own `--acyclic` is not used: in 0.27 it
# runs on the unfiltered item graph, where every type and its derived methods (`T` ↔ `T::serialize`) form a
# cycle. Limit: cargo-modules records `use` items and signatures, not fully qualified paths inside function
# bodies (`crate::graph::routes()`), so a cycle made only of such calls goes unseen.
#
# cargo-modules is installed once, from crates.io, into the cache outside the clone, keyed by version:
#   ${MESHGLASS_CACHE:-$HOME/.cache/meshglass}/cargo-modules-<version>/bin/cargo-modules
# and reused from there (the first install compiles rust-analyzer's crates: 15+ minutes on 2 cores).
#
# Usage: tests/tools/acyclic.sh [CRATE…]   (default: every workspace library crate)
set -euo pipefail

# 0.27.0 is the newest release that builds with the workspace's toolchain (0.28 needs a newer rustc).
CARGO_MODULES_VERSION=0.27.0
CARGO=${CARGO:-cargo}

. "$(dirname "$0")/cargo-install-cached.sh"
cargo_install_cached cargo-modules "$CARGO_MODULES_VERSION"

cd "$(dirname "$0")/../.."
if [ "$#" -gt 0 ]; then
  crates=("$@")
else
  mapfile -t crates < <("$CARGO" metadata --no-deps --format-version 1 --locked |
    jq -r '.packages[] | select(any(.targets[]; .kind | index("lib"))) | .name')
fi
[ "${#crates[@]}" -gt 0 ] || { echo "acyclic: no library crate found in the workspace" >&2; exit 1; }

# "from to" pairs of modules, from cargo-modules' DOT read twice: first its module nodes, then its uses edges.
module_edges() {
  awk '
    FNR == NR {
      if ($0 ~ /^ *"[^"]+" \[label=/ && $0 ~ /\/\/ "(mod|crate)" node/) {
        match($0, /"[^"]+"/); mods[substr($0, RSTART + 1, RLENGTH - 2)] = 1
      }
      next
    }
    function module_of(path) {
      while (!(path in mods) && index(path, "::") > 0) sub(/::[^:]+$/, "", path)
      return path
    }
    / -> / && /label="uses"/ {
      split($0, q, "\"")
      from = module_of(q[2]); to = module_of(q[4])
      if (from == to || index(to, from "::") == 1) next
      if (!((from, to) in seen)) { seen[from, to] = 1; print from, to }
    }' "$1" "$1"
}

export RUST_BACKTRACE=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=()
for crate in "${crates[@]}"; do
  if ! "$CARGO" modules dependencies --lib -p "$crate" --no-externs --no-sysroot >"$work/graph.dot" 2>"$work/err"; then
    echo "acyclic: $crate: cargo-modules failed:" >&2
    sed 's/^/  /' "$work/err" >&2
    failed+=("$crate")
    continue
  fi
  module_edges "$work/graph.dot" >"$work/edges"
  if tsort "$work/edges" >/dev/null 2>"$work/loops"; then
    echo "acyclic: $crate: no import cycle among its modules ($(wc -l <"$work/edges") dependencies)"
  else
    echo "acyclic: $crate: import cycle among modules:" >&2
    # tsort prints each loop as "input contains a loop:" followed by its members, one a line.
    sed -e 's/^tsort: [^:]*: input contains a loop:$/  cycle:/' -e 's/^tsort: /    /' "$work/loops" >&2
    failed+=("$crate")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "acyclic: FAILED for ${failed[*]}: move what both sides of each cycle share into a module of its own" >&2
  exit 1
fi
