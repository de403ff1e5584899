#!/usr/bin/env bash
# check_device_pack.sh: proves a device pack (scripts/pack_for_device.sh) starts on a machine that has none of
# sprint's build tree or Debian packages. Unpacks it into a clean folder and, with only the pack's lib/ on the
# library path (plus glibc, libstdc++ and CUDA, which the device brings):
#   - every library the binaries and tests load resolves, and each one outside that system set comes from the pack
#     (not from this host's build tree or /usr/lib);
#   - sprint's own code holds no AVX/AVX-512 instructions outside the functions it selects at run time on CPUs that
#     have them (named *avx2*; it is built for any x86-64 CPU, and oneDNN and OpenBLAS choose their kernels at run
#     time too);
#   - `sprint info`, a one-epoch CPU training run on the packed FashionMNIST and the core unit tests run.
# Usage: scripts/check_device_pack.sh [PACK]   (default device-pack/pack.tar.xz)
set -euo pipefail
pack_file=${1:-device-pack/pack.tar.xz}
[[ -f "$pack_file" ]] || { echo "check_device_pack: no $pack_file" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
tar -xJf "$pack_file" -C "$dir"
fail=0
problem() { echo "check_device_pack: $*" >&2; fail=1; }
system_lib() {
  case "$1" in
    */libc.so*|*/libm.so*|*/libpthread.so*|*/libdl.so*|*/librt.so*|*/ld-linux*|*/libstdc++.so*|*/libgcc_s.so*) return 0 ;;
    /usr/local/cuda*|*/libcuda.so*|*/libcudnn*|*/libcublas*|*/libnccl*|*/libnvidia*|*/libcudart*) return 0 ;;
  esac
  return 1
}
run_clean() { env -i PATH=/usr/bin:/bin HOME="$dir/home" LD_LIBRARY_PATH="$dir/lib" SPRINT_DATA="$dir/data" "$@"; }
mkdir -p "$dir/home"
for f in "$dir"/bin/* "$dir"/tests/*; do
  while read -r line; do
    [[ "$line" == *"not found"* ]] && problem "$(basename "$f"): $line"
    lib=$(awk '/=> \//{print $3}' <<<"$line")
    [[ -z "$lib" ]] && continue
    system_lib "$lib" || [[ "$lib" == "$dir/lib/"* ]] || problem "$(basename "$f") loads $lib from outside the pack"
  done < <(run_clean ldd "$f")
done
for f in "$dir"/bin/* "$dir"/lib/libsprint*.so*; do
  [[ -L "$f" ]] && continue
  offenders=$(objdump -d --no-show-raw-insn -C "$f" |
    awk '/^[0-9a-f]+ <.*>:$/ { fn = $0 } /%[yz]mm[0-9]/ && fn !~ /avx2/ { print fn }' | sort -u | head -3)
  if [[ -n "$offenders" ]]; then
    problem "$(basename "$f") holds AVX/AVX-512 instructions (built with -march=native?): $offenders"
  fi
done
run_clean "$dir/bin/sprint" info >/dev/null || problem "sprint info failed from the pack"
if [[ -d "$dir/data/fashion-mnist" ]]; then
  run_clean "$dir/bin/sprint" train --model mlp --dataset fashion-mnist --epochs 1 --device cpu >/dev/null ||
    problem "sprint train failed from the pack"
fi
run_clean "$dir/tests/unit_core_test" --gtest_brief=1 >/dev/null || problem "unit_core_test failed from the pack"
if [[ $fail != 0 ]]; then exit 1; fi
echo "check_device_pack: $pack_file starts from a clean folder with only its libraries"
