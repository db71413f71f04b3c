#!/usr/bin/env bash
# The main job: build ncodec and run it. Until the first trained model lands, that is
# listing the shipped models and inspecting the stored golden container.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo build -p ncodec-cli
ncodec=target/debug/ncodec
$ncodec --version
$ncodec models
$ncodec info tests/fixtures/golden-v1.ncx
