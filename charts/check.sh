#!/usr/bin/env bash
# `make charts-check`: the charts' generated files match their sources (`make charts` regenerates them), each
# Chart.yaml's appVersion is the workspace version, and `helm lint --strict` passes for both charts with their
# defaults and with every values file in <chart>/ci/ (a Kiali CR from the chart, remote mode, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../tests/tools/versions.env
. tests/tools/versions.env
helm="${HELM:-${MESHGLASS_CACHE:-$HOME/.cache/meshglass}/helm-$HELM_VERSION/helm}"
cargo="${CARGO:-cargo}"
[ -x "$helm" ] || { echo "charts-check: $helm is missing: run 'make tools'" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

drift() { # <committed file> <what it must equal>
  if ! diff -u "$1" "$2" > "$tmp/diff"; then
    head -40 "$tmp/diff"
    echo "charts-check: $1 is stale: run 'make charts' and commit it" >&2
    fail=1
  fi
}
drift charts/meshglass-operator/crds/kiali.io_kialis.yaml crds/kiali.io_kialis.yaml
"$cargo" run --locked -q -p meshglass-operator -- rbac > "$tmp/rbac.yaml"
drift charts/meshglass-operator/files/rbac.yaml "$tmp/rbac.yaml"
"$cargo" run --locked -q -p meshglass-operator -- rbac --server > "$tmp/rules.yaml"
drift charts/meshglass-server/files/rules.yaml "$tmp/rules.yaml"

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml)
for chart in charts/meshglass-operator charts/meshglass-server; do
  app=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$chart/Chart.yaml")
  if [ "$app" != "$version" ]; then
    echo "charts-check: $chart/Chart.yaml appVersion '$app' is not the workspace version '$version'" >&2
    fail=1
  fi
  "$helm" lint --strict --quiet "$chart" > "$tmp/lint" 2>&1 || { cat "$tmp/lint"; fail=1; }
  for values in "$chart"/ci/*.yaml; do
    "$helm" lint --strict --quiet "$chart" -f "$values" > "$tmp/lint" 2>&1 \
      || { echo "with $values:"; cat "$tmp/lint"; fail=1; }
  done
done
"$helm" lint --strict --quiet charts/meshglass-operator --set leaderElection.enabled=false > "$tmp/lint" 2>&1 \
  || { cat "$tmp/lint"; fail=1; }

[ "$fail" = 0 ] && echo "charts-check: both charts lint clean, generated files up to date"
exit "$fail"
