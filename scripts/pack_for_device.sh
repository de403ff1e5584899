#!/usr/bin/env bash
# pack_for_device.sh: packs a CUDA build of sprint for the lent GPU machine, which has CUDA 13, cuDNN 9 and
# PyTorch but none of sprint's Debian packages and no package access. Collects the binaries, sprint's libraries,
# the test executables, the Debian shared libraries they load (everything ldd resolves outside glibc, libstdc++
# and CUDA) and FashionMNIST into device-pack/pack.tar.xz (git-ignored; carry it: `carry: ["device-pack"]`).
# Then run scripts/device_check.sh there.
# The pack is built for any x86-64 CPU: the device's CPU is not this host's, so a build made with -march=native
# (SPRINT_NATIVE=ON, the default for local builds) may stop there with an illegal instruction. The default
# BUILD_DIR, build-device/, is configured with SPRINT_NATIVE=OFF and built when missing; a native build is
# refused. scripts/check_device_pack.sh then runs the pack from a clean folder with only its own libraries.
# Usage: scripts/pack_for_device.sh [BUILD_DIR] [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-device}
data=${2:-${SPRINT_DATA:-$HOME/.cache/sprint}}
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSPRINT_NATIVE=OFF -DSPRINT_CUDA=ON
fi
if grep -q '^SPRINT_NATIVE:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "pack_for_device: $build is built with -march=native for this host's CPU, which the device's may lack;" \
       "configure it with -DSPRINT_NATIVE=OFF (or use the default build-device/)" >&2
  exit 1
fi
cmake --build "$build" -j "$(nproc)"
[[ -x "$build/bin/sprint" ]] || { echo "pack_for_device: no $build/bin/sprint (build first)" >&2; exit 1; }
grep -q "define SPRINT_HAS_CUDA 1" "$build/include/sprint/config.h" 2>/dev/null ||
  { echo "pack_for_device: $build was built without CUDA" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,lib,tests,data}
cp "$build"/bin/* "$stage/bin/"
find "$build/tests" -type f -executable -name '*_test' ! -path '*/install/*' -exec cp {} "$stage/tests/" \;
cp -P "$build"/src/libsprint*.so* "$stage/lib/"
for f in "$stage"/bin/* "$stage"/tests/*; do ldd "$f"; done | awk '/=> \//{print $3}' | sort -u |
  while read -r lib; do
    case "$lib" in
      */libc.so*|*/libm.so*|*/libpthread.so*|*/libdl.so*|*/librt.so*|*/ld-linux*|*/libstdc++.so*|*/libgcc_s.so*) ;;
      /usr/local/cuda*|*/libcuda.so*|*/libcudnn*|*/libcublas*|*/libnccl*|*/libnvidia*) ;;
      */libsprint*) ;;
      *) cp -L "$lib" "$stage/lib/" ;;
    esac
  done
if [[ -d "$data/fashion-mnist" ]]; then
  cp -r "$data/fashion-mnist" "$stage/data/"
else
  echo "pack_for_device: no FashionMNIST in $data (sprint data fetch fashion-mnist); packing without data" >&2
fi
mkdir -p device-pack
rm -f device-pack/pack.tar.*
tar -C "$stage" -cf - . | xz -9 -T0 > device-pack/pack.tar.xz   # ~46 MB: under the 64 MiB a device call carries
echo "pack_for_device: device-pack/pack.tar.xz $(du -h device-pack/pack.tar.xz | cut -f1) ($(ls "$stage/lib" | wc -l) libraries)"
scripts/check_device_pack.sh device-pack/pack.tar.xz
