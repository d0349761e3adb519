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

# verify DIR: operator-verify's log; fails (status 1) when it exits non-zero or logs an error.
verify() {
  local rc=0 log
  log=$("$verify" manifests --object_validate --operatorhub_validate "$1" 2>&1) || rc=$?
  printf '%s\n' "$log"
  [ "$rc" = 0 ] && ! grep -q -E 'level=(error|fatal)' <<<"$log"
}

if ! log=$(verify "$dir"); then
  echo "$log" >&2
  echo "bundle-check: operator-verify rejects $dir" >&2
  exit 1
fi
# Known, accepted warnings: no icon; the deprecated name of the operatorhub validator.
shown=$(grep -v -e 'csv.Spec.Icon not specified' -e 'validator is deprecated' <<<"$log" || true)
[ -n "$shown" ] && echo "$shown" >&2

# The check must be able to fail: a copy whose CSV owns a CRD version the bundle does not ship is rejected.
cp -r "$dir" "$tmp/broken"
sed -i 's/^    version: v1alpha1$/    version: v1beta9/' "$tmp/broken/manifests/"*.clusterserviceversion.yaml
if grep -q 'version: v1beta9' "$tmp/broken/manifests/"*.clusterserviceversion.yaml && verify "$tmp/broken" >/dev/null; then
  echo "bundle-check: operator-verify accepted a broken bundle; the check cannot be trusted" >&2
  exit 1
fi
echo "bundle-check: $dir is up to date and valid (operator-verify $OPERATOR_FRAMEWORK_API_VERSION)"
