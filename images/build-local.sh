#!/usr/bin/env bash
# `make images`: builds localhost/meshglass-operator:v<version> and localhost/meshglass-server:v<version> with
# Debian's buildah, offline: no base image is pulled (FROM scratch), the binaries are the host's release builds
# and each image carries exactly the shared libraries its binary loads (ldd). buildah runs with the vfs storage
# driver and chroot isolation, so no container engine, daemon or overlay support is needed; the Containerfiles
# have no RUN step. The images stay in buildah's local storage; OCI archives are written to target/images/.
# Usage: images/build-local.sh <release binary dir>
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir=${1:?usage: build-local.sh <dir with the release meshglass-operator and meshglass-server>}
command -v buildah >/dev/null || { echo "images: buildah missing: apt-get install buildah" >&2; exit 2; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# vfs works on any filesystem and without overlay support; STORAGE_DRIVER=overlay is faster where it works.
buildah=(buildah --storage-driver "${STORAGE_DRIVER:-vfs}")
out=target/images
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
mkdir -p "$out"

for name in meshglass-operator meshglass-server; do
  short=${name#meshglass-}
  ctx=$out/$name
  rm -rf "$ctx"
  mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/etc"
  install -m 0555 "$bin_dir/$name" "$ctx/rootfs/usr/local/bin/$name"
  # Shared libraries, copied to the paths the dynamic loader looks them up at.
  ldd "$bin_dir/$name" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | while read -r lib; do
    real=$(readlink -f "$lib")
    mkdir -p "$ctx/rootfs$(dirname "$lib")"
    install -m 0555 "$real" "$ctx/rootfs$lib"
  done
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
    > "$ctx/rootfs/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' > "$ctx/rootfs/etc/group"
  image=localhost/$name:v$version
  old=$("${buildah[@]}" images --quiet --no-trunc "$image" 2>/dev/null || true)
  # Reproducible: image and file times are the last commit's, so the same binaries give the same image ID.
  "${buildah[@]}" bud --quiet --pull=never --isolation chroot --timestamp "$epoch" \
    -f "images/$short.local.Containerfile" -t "$image" "$ctx" >/dev/null
  new=$("${buildah[@]}" images --quiet --no-trunc "$image")
  # The previous build of this tag, now untagged, is removed (if nothing else uses it).
  if [ -n "$old" ] && [ "$old" != "$new" ]; then "${buildah[@]}" rmi "$old" >/dev/null 2>&1 || true; fi
  # Smoke test: the image's binary starts (as 65532, from the image's own root filesystem).
  ctr=$("${buildah[@]}" from --pull=never "$image")
  trap '"${buildah[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
  "${buildah[@]}" run --isolation chroot --user 65532:65532 "$ctr" -- "/usr/local/bin/$name" --version
  "${buildah[@]}" rm "$ctr" >/dev/null
  trap - EXIT
  rm -f "$out/$name.oci.tar"
  "${buildah[@]}" push --quiet "$image" "oci-archive:$out/$name.oci.tar:$image" >/dev/null
  echo "images: $image ($(du -h "$out/$name.oci.tar" | cut -f1) OCI archive: $out/$name.oci.tar)"
done
