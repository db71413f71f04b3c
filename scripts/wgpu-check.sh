#!/usr/bin/env bash
# Cross-device check of the wgpu build: every image and audio model's files encoded with
# the transforms on wgpu decode with them on the CPU (flex) and the other way round, and
# the two decodes of one file agree up to float rounding. Exits 1 if any step fails or a
# cross-device decode differs from the same-device one by more than MAX_DIFF (8-bit
# levels for images).
#
#   cargo build -p ncodec-cli --features wgpu      # a long cold build (see docs/BUILD.md)
#   scripts/wgpu-check.sh [IMAGE...]
#
# NCODEC names the binary (default target/debug/ncodec). With NCODEC_LAVAPIPE=1 the
# script fetches Debian's software Vulkan driver (lavapipe) into target/lavapipe and
# runs wgpu on it, so the wgpu path can be checked on a machine without a GPU. The
# default images are Kodak's kodim23 and kodim05 when ../shared exists, else the photo in
# tests/fixtures.
set -uo pipefail
cd "$(dirname "$0")/.."
ncodec=${NCODEC:-target/debug/ncodec}
max_diff=${MAX_DIFF:-2}

if [ "${NCODEC_LAVAPIPE:-0}" = 1 ]; then
  lvp=$PWD/target/lavapipe
  if [ ! -f "$lvp/lvp.json" ]; then
    mkdir -p "$lvp/debs" "$lvp/lists/partial" "$lvp/root"
    o="-oDir::State::Lists=$lvp/lists"
    apt-get "$o" update >/dev/null &&
      (cd "$lvp/debs" && apt-get "$o" download mesa-vulkan-drivers libvulkan1) || exit 1
    for f in "$lvp"/debs/*.deb; do dpkg -x "$f" "$lvp/root"; done
    sed "s|/usr/lib/|$lvp/root/usr/lib/|" \
      "$lvp"/root/usr/share/vulkan/icd.d/lvp_icd.*.json >"$lvp/lvp.json"
  fi
  export LD_LIBRARY_PATH="$lvp/root/usr/lib/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)"
  export VK_ICD_FILENAMES="$lvp/lvp.json" VK_DRIVER_FILES="$lvp/lvp.json"
fi

images=("$@")
if [ ${#images[@]} -eq 0 ]; then
  if [ -d ../shared/datasets/kodak ]; then
    images=(../shared/datasets/kodak/kodim23.png ../shared/datasets/kodak/kodim05.png)
  else
    images=(tests/fixtures/metrics_a.png)
  fi
fi
wav=../shared/datasets/audio/speech/test/vctk_p232_013.wav
[ -f "$wav" ] || wav=tests/fixtures/speech_ljspeech_LJ001-0027_0.5-2.0s.wav

w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }
# Runs a command, printing its wall time; `on wgpu` or `on cpu` picks the device.
on() {
  local dev=$1
  shift
  local t0
  t0=$(date +%s%N)
  if [ "$dev" = wgpu ]; then NCODEC_DEVICE=wgpu "$@"; else "$@"; fi >/dev/null 2>"$w/err" ||
    { fail "$dev: $* ($(tail -1 "$w/err"))"; return 1; }
  printf '  %-4s %6d ms  %s\n' "$dev" $((($(date +%s%N) - t0) / 1000000)) "$(basename "$2") $(basename "$3")"
}

# Encodes `src` on each device, decodes each file on each device, and compares.
check() {
  local src=$1 ext=$2
  shift 2
  for d in wgpu cpu; do on $d "$ncodec" encode "$src" -o "$w/$d.ncx" "$@" || return; done
  if cmp -s "$w/wgpu.ncx" "$w/cpu.ncx"; then echo "  the two files are identical"; else
    echo "  the two files differ (float rounding moved some latents)"; fi
  for e in wgpu cpu; do
    for d in wgpu cpu; do on $d "$ncodec" decode "$w/$e.ncx" -o "$w/$e-$d.$ext" || return; done
    "$ncodec" compare "$src" "$w/$e-wgpu.$ext" "$w/$e-cpu.$ext" | sed "s|$w/|  |"
    local j
    j=$("$ncodec" compare --json "$w/$e-wgpu.$ext" "$w/$e-cpu.$ext") || { fail "compare"; return; }
    "$ncodec" compare "$w/$e-wgpu.$ext" "$w/$e-cpu.$ext" | sed "s|^$w/[^:]*:|  $e.ncx decoded on wgpu vs on cpu:|"
    local m
    m=$(echo "$j" | sed -n 's/.*"max_abs": *\([0-9.e+-]*\).*/\1/p')
    [ "$ext" = wav ] && m=$(awk -v m="$m" 'BEGIN { print m * 32768 }')
    awk -v m="$m" -v t="$max_diff" 'BEGIN { exit !(m <= t) }' ||
      fail "$src: decoding the $e file on wgpu and cpu differs by $m"
  done
}

"$ncodec" models | awk 'NR > 1 { print $1, $2, $3 }' >"$w/models"
while read -r id kind range; do
  hi=${range#*..=}
  if [ "$kind" = image ]; then
    for img in "${images[@]}"; do
      for q in 0 "$((hi / 2))" "$hi"; do
        echo "== $id quality $q, $(basename "$img")"
        check "$img" png --model "$id" -q "$q"
      done
    done
  elif [ "$kind" = audio ]; then
    echo "== $id, $(basename "$wav")"
    check "$wav" wav --model "$id"
  fi
done <"$w/models"
[ $failed = 0 ] && echo "wgpu check passed" || echo "wgpu check FAILED"
exit $failed
