#!/usr/bin/env bash
# Builds the test bed's control-plane binaries from the Go module proxy into
# "$MESHGLASS_CACHE/<tool>-<version>/" (default ~/.cache/meshglass), outside the clone.
# Anything already there is reused: a warm run rebuilds nothing.
#   kubernetes-<v>/  kube-apiserver kube-controller-manager kube-scheduler (+ kubectl when none is on PATH)
#   etcd-<v>/        etcd
#   kwok-<v>/        kwok stages.yaml logs-crd.yaml portforward-crd.yaml
#   istio-api-<v>/   customresourcedefinitions.gen.yaml
#   helm-<v>/        helm (charts: lint, template)
#   operator-framework-api-<v>/  operator-verify (bundle: validate the CSV and annotations)
#   thanos-<v>/      thanos (sidecar + query: the test bed's distributed metrics store)
#   oauth2-proxy-<v>/ oauth2-proxy (HTTPS bearer-token gate in front of Thanos Query)
#   hydra-<v>/       hydra (Ory Hydra: the test bed's OpenID provider; cgo for its SQLite store)
#   jaeger-<v>/      jaeger (all-in-one: OTLP receiver and query API, the tracing store of tests and demo)
# Versions: tests/tools/versions.env. Wrapper modules: tests/tools/{k8s,etcd,kwok} (see sync-modules.sh),
# tests/tools/{helm,olm,thanos,oauth2-proxy} (their go.mod pins the version; keep it equal to versions.env;
# thanos' go.mod repeats the replaces of Thanos' own go.mod, which Go ignores in dependencies).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"
cache="${MESHGLASS_CACHE:-$HOME/.cache/meshglass}"

# Go is needed only when something is missing from the cache.
need_go() {
  command -v go >/dev/null 2>&1 && return 0
  echo "build-tools: $1 is not in $cache and the Go toolchain ('go') is not on PATH." >&2
  echo "build-tools: the test bed builds kube-apiserver, etcd and kwok from the Go module proxy;" >&2
  echo "build-tools: install Go >= 1.26 (https://go.dev/dl/ or your distribution) and run 'make tools' again." >&2
  exit 2
}

# -mod=mod: the committed go.sum is used and completed from the proxy when needed.
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
mkdir -p "$cache"

built=0
# build NAME VERSION MODULE_DIR LDFLAGS OUTPUT... -- PACKAGE...
# Builds into a temporary sibling and renames it, so an interrupted build never looks finished.
build() {
  local name=$1 version=$2 dir=$3 ldflags=$4; shift 4
  local outs=() pkgs=()
  while [ "$1" != "--" ]; do outs+=("$1"); shift; done
  shift
  pkgs=("$@")
  local dest="$cache/$name-$version" missing=0 o
  for o in "${outs[@]}"; do [ -x "$dest/$o" ] || missing=1; done
  # The cache is keyed by version and by build tags: a build made with other tags is made again.
  [ "$(cat "$dest/.build-tags" 2>/dev/null)" = "${BUILD_TAGS:-}" ] || missing=1
  [ "$missing" = 0 ] && return 0
  need_go "$name $version"
  echo "build-tools: building $name $version (${outs[*]}) into $dest ..." >&2
  local start=$SECONDS tmp
  mkdir -p "$dest"
  tmp="$(mktemp -d "$dest/.build.XXXXXX")"
  if [ "${#pkgs[@]}" = 1 ]; then
    (cd "$here/$dir" && go build -tags "${BUILD_TAGS:-}" -ldflags "$ldflags" -o "$tmp/${outs[0]}" "${pkgs[0]}")
  else
    (cd "$here/$dir" && go build -tags "${BUILD_TAGS:-}" -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}")
  fi
  printf '%s' "${BUILD_TAGS:-}" > "$dest/.build-tags"
  for o in "${outs[@]}"; do mv -f "$tmp/$o" "$dest/$o"; done
  rm -rf "$tmp"
  echo "$((SECONDS - start))" > "$dest/.build-seconds"
  echo "build-tools: $name $version built in $((SECONDS - start)) s" >&2
  built=1
}

# --- Kubernetes control plane ------------------------------------------------------
kv="${KUBERNETES_VERSION#v}"
kmajor="${kv%%.*}"; krest="${kv#*.}"; kminor="${krest%%.*}"
vpkg=k8s.io/component-base/version
kldflags="-s -w -X $vpkg.gitVersion=$KUBERNETES_VERSION -X $vpkg.gitMajor=$kmajor -X $vpkg.gitMinor=$kminor -X $vpkg.gitTreeState=clean"
kouts=(kube-apiserver kube-controller-manager kube-scheduler)
kpkgs=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler)
if ! command -v kubectl >/dev/null 2>&1; then
  kouts+=(kubectl); kpkgs+=(k8s.io/kubernetes/cmd/kubectl)
fi
build kubernetes "$KUBERNETES_VERSION" k8s "$kldflags" "${kouts[@]}" -- "${kpkgs[@]}"

# --- etcd ---------------------------------------------------------------------------
build etcd "$ETCD_VERSION" etcd "-s -w" etcd -- go.etcd.io/etcd/server/v3

# --- kwok ---------------------------------------------------------------------------
build kwok "$KWOK_VERSION" kwok "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" kwok -- sigs.k8s.io/kwok/cmd/kwok

# kwok needs Stage objects for its node and pod lifecycle: the upstream "fast" stages
# (nodes become Ready at once; pods Running/Ready, completed, deleted).
stages="$cache/kwok-$KWOK_VERSION/stages.yaml"
if [ ! -s "$stages" ]; then
  need_go "kwok stages"
  dir="$(cd "$here/kwok" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  for f in node/fast/node-initialize.yaml pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"
    cat "$dir/kustomize/stage/$f"
  done > "$stages.tmp"
  mv "$stages.tmp" "$stages"
  built=1
fi

# kwok's `Logs` CRD: a Logs object maps a pod's containers to files that kwok's kubelet API serves as their
# logs (the API server's pods/log), so the simulated pods have real log lines.
logs_crd="$cache/kwok-$KWOK_VERSION/logs-crd.yaml"
if [ ! -s "$logs_crd" ]; then
  need_go "kwok Logs CRD"
  dir="$(cd "$here/kwok" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  cp "$dir/kustomize/crd/bases/kwok.x-k8s.io_logs.yaml" "$logs_crd.tmp"
  chmod 644 "$logs_crd.tmp"
  mv "$logs_crd.tmp" "$logs_crd"
  built=1
fi

# kwok's `PortForward` CRD: a PortForward object maps a pod's ports to an address that kwok's kubelet API dials
# for the API server's pods/portforward (the simulated sidecars' Envoy admin port 15000, for config_dump).
pf_crd="$cache/kwok-$KWOK_VERSION/portforward-crd.yaml"
if [ ! -s "$pf_crd" ]; then
  need_go "kwok PortForward CRD"
  dir="$(cd "$here/kwok" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  cp "$dir/kustomize/crd/bases/kwok.x-k8s.io_portforwards.yaml" "$pf_crd.tmp"
  chmod 644 "$pf_crd.tmp"
  mv "$pf_crd.tmp" "$pf_crd"
  built=1
fi

# --- Istio CRDs ---------------------------------------------------------------------
crds="$cache/istio-api-$ISTIO_API_VERSION/customresourcedefinitions.gen.yaml"
if [ ! -s "$crds" ]; then
  need_go "Istio CRDs"
  mkdir -p "$(dirname "$crds")"
  dir="$(cd "$here/k8s" && go mod download -json "istio.io/api@$ISTIO_API_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  cp "$dir/kubernetes/customresourcedefinitions.gen.yaml" "$crds.tmp"
  chmod 644 "$crds.tmp"
  mv "$crds.tmp" "$crds"
  built=1
fi

# --- Packaging checks (wrapper modules tests/tools/{helm,olm}) ----------------------------
# The wrapper's go.mod must require the version versions.env names (it names the cache folder).
pinned() {
  grep -Eq "^[[:space:]]*(require[[:space:]]+)?$2 $3( |\$)" "$here/$1/go.mod" && return 0
  echo "build-tools: tests/tools/$1/go.mod does not require $2 $3 (tests/tools/versions.env)" >&2
  exit 2
}
pinned helm helm.sh/helm/v3 "$HELM_VERSION"
pinned olm github.com/operator-framework/api "$OPERATOR_FRAMEWORK_API_VERSION"
build helm "$HELM_VERSION" helm "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" helm -- helm.sh/helm/v3/cmd/helm
build operator-framework-api "$OPERATOR_FRAMEWORK_API_VERSION" olm "-s -w" operator-verify -- \
  github.com/operator-framework/api/cmd/operator-verify

# --- Metrics store (wrapper modules tests/tools/{thanos,oauth2-proxy}) -------------------
pinned thanos github.com/thanos-io/thanos "$THANOS_VERSION"
pinned oauth2-proxy github.com/oauth2-proxy/oauth2-proxy/v7 "$OAUTH2_PROXY_VERSION"
pv=github.com/prometheus/common/version
# The tags of Thanos' own release build (.promu.yml): `slicelabels` is required — Thanos casts Prometheus'
# labels.Labels to its protobuf labels as a slice, and without the tag (Prometheus' default is stringlabels) the
# sidecar's gRPC replies carry garbage sizes and it panics in extgrpc's codec on the first Info call.
BUILD_TAGS=netgo,slicelabels build thanos "$THANOS_VERSION" thanos "-s -w -X $pv.Version=${THANOS_VERSION#v}" thanos -- github.com/thanos-io/thanos/cmd/thanos
build oauth2-proxy "$OAUTH2_PROXY_VERSION" oauth2-proxy \
  "-s -w -X github.com/oauth2-proxy/oauth2-proxy/v7/pkg/version.VERSION=$OAUTH2_PROXY_VERSION" oauth2-proxy -- \
  github.com/oauth2-proxy/oauth2-proxy/v7
# --- OpenID provider (wrapper module tests/tools/hydra) ----------------------------------
# Its in-memory store is SQLite (cgo, build tags of Hydra's own Makefile).
pinned hydra github.com/ory/hydra/v2 "$HYDRA_VERSION"
BUILD_TAGS=sqlite,sqlite_omit_load_extension CGO_ENABLED=1 \
  build hydra "$HYDRA_VERSION" hydra "-s -w -X github.com/ory/hydra/v2/driver/config.Version=$HYDRA_VERSION" hydra -- \
  github.com/ory/hydra/v2

# --- Tracing store (wrapper module tests/tools/jaeger) -------------------------------------
pinned jaeger github.com/jaegertracing/jaeger "$JAEGER_VERSION"
build jaeger "$JAEGER_VERSION" jaeger "-s -w" jaeger -- github.com/jaegertracing/jaeger/cmd/jaeger

[ "$built" = 1 ] && echo "build-tools: tools ready in $cache" >&2
exit 0
