# Sourced by tests/tools/{acyclic,deny}.sh: `cargo_install_cached CRATE VERSION` installs a cargo tool once, from
# crates.io, into the cache outside the clone, keyed by version —
#   ${MESHGLASS_CACHE:-$HOME/.cache/meshglass}/<crate>-<version>/bin/<crate>
# — and puts its bin directory first on PATH. The install goes into a scratch root first, so that an interrupted
# install never leaves a cache entry that looks complete, and builds in its own target dir, so that the
# workspace's is not filled with the tool's build.
cargo_install_cached() {
  local crate=$1 version=$2
  local cache="${MESHGLASS_CACHE:-$HOME/.cache/meshglass}"
  local root="$cache/$crate-$version"
  if [ ! -x "$root/bin/$crate" ]; then
    echo "$crate: installing $crate $version into $root (once; it compiles the tool)" >&2
    mkdir -p "$cache"
    local tmp
    tmp="$(mktemp -d "$cache/.$crate-$version.XXXXXX")"
    if ! CARGO_TARGET_DIR="$tmp/target" "${CARGO:-cargo}" install --locked --quiet --root "$tmp/root" "$crate@$version"; then
      rm -rf "$tmp"
      return 1
    fi
    rm -rf "$root"
    mv "$tmp/root" "$root"
    rm -rf "$tmp"
  fi
  export PATH="$root/bin:$PATH"
}
