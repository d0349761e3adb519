#!/usr/bin/env bash
# Regenerates the wrapper Go modules (tests/tools/{k8s,etcd,kwok}/go.mod and go.sum) from
# versions.env. Run after changing a version, then commit go.mod and go.sum.
# k8s.io/kubernetes maps its staging modules with `replace => ./staging/...`, which Go ignores
# in dependencies; the wrapper replaces each of them with its published v0.X.Y instead.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"
export GOFLAGS=-mod=mod

# --- kubernetes -------------------------------------------------------------------
staging="v0.${KUBERNETES_VERSION#v1.}"
cd "$here/k8s"
rm -f go.mod go.sum
go mod init meshglass.invalid/tools/k8s >/dev/null 2>&1
gomod="$(go mod download -json "k8s.io/kubernetes@${KUBERNETES_VERSION}" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')"
go mod edit -require="k8s.io/kubernetes@${KUBERNETES_VERSION}"
for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$gomod"); do
  go mod edit -replace="$m=$m@$staging"
done
go mod tidy

# --- etcd ---------------------------------------------------------------------------
cd "$here/etcd"
rm -f go.mod go.sum
go mod init meshglass.invalid/tools/etcd >/dev/null 2>&1
go mod edit -require="go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
for m in go.etcd.io/etcd/api/v3 go.etcd.io/etcd/client/pkg/v3 go.etcd.io/etcd/client/v3 go.etcd.io/etcd/pkg/v3; do
  go mod edit -require="$m@${ETCD_VERSION}"
done
go mod tidy

# --- kwok ---------------------------------------------------------------------------
cd "$here/kwok"
rm -f go.mod go.sum
go mod init meshglass.invalid/tools/kwok >/dev/null 2>&1
go mod edit -require="sigs.k8s.io/kwok@${KWOK_VERSION}"
go mod tidy
