#!/usr/bin/env bash
# `make bundle-check`: bundle/ is exactly what `meshglass-operator bundle` generates (CRD from the Rust
# types, permissions from operator/src/rbac.rs, alm-examples from examples/), and operator-verify
# (github.com/operator-framework/api, built by `make tools`) reports no error on it.
# operator-verify exits 0 even when it logs validation errors, so its log is checked too.
# Usage: tests/tools/bundle-check.sh <meshglass-operator binary> [bundle dir]
set -euo pipefail
bin=${1:?usage: bundle-check.sh <meshglass-operator binary> [bundle dir]}
dir=${2:-bundle}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${MESHGLASS_CACHE:-$HOME/.cache/meshglass}
verify=$cache/operator-framework-api-$OPERATOR_FRAMEWORK_API_VERSION/operator-verify
[ -x "$verify" ] || { echo "bundle-check: $verify missing: run 'make tools'" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" bundle --out "$tmp/bundle"
if ! diff -ru "$dir" "$tmp/bundle"; then
  echo "bundle-check: $dir is stale: run 'make bundle' and commit it" >&2
  exit 1
fi

rc=0
log=$("$verify" manifests --object_validate --operatorhub_validate "$dir" 2>&1) || rc=$?
# Known, accepted warnings: no icon; the deprecated name of the operatorhub validator.
shown=$(grep -v -e 'csv.Spec.Icon not specified' -e 'validator is deprecated' <<<"$log" || true)
[ -n "$shown" ] && echo "$shown" >&2
if [ "$rc" != 0 ] || grep -q -E 'level=(error|fatal)' <<<"$log"; then
  echo "bundle-check: operator-verify rejects $dir" >&2
  exit 1
fi
echo "bundle-check: $dir is up to date and valid (operator-verify $OPERATOR_FRAMEWORK_API_VERSION)"
