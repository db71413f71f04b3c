#!/usr/bin/env bash
# The main job: build ncodec, then encode and decode a Kodak image with the default
# model and show what was written. Uses ../shared/datasets/kodak when present (the
# development setup), else the small photo committed in tests/fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo build -p ncodec-cli
ncodec=target/debug/ncodec
$ncodec models
img=../shared/datasets/kodak/kodim23.png
[ -f "$img" ] || img=tests/fixtures/metrics_a.png
out=$(mktemp -d)
$ncodec encode "$img" -o "$out/image.ncx"
$ncodec info "$out/image.ncx"
$ncodec decode "$out/image.ncx" -o "$out/decoded.png"
echo "decoded image: $out/decoded.png"
