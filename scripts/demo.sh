#!/usr/bin/env bash
# The main job: build ncodec, then encode and decode a Kodak image with the default
# model (and a speech clip with the default audio model) and show what was written.
# Uses ../shared/datasets when present (the development setup), else the small photo
# and speech clip committed in tests/fixtures.
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
cp "$img" "$out/image.png"
# Without -o, the file is named after the input: image.ncx beside image.png.
$ncodec encode "$out/image.png"
$ncodec info "$out/image.ncx"
$ncodec decode "$out/image.ncx" -o "$out/decoded.png"
echo "decoded image: $out/decoded.png"
# Speech with the default audio model (WaLLoC): any WAV, any rate; decodes to the same
# rate and sample format.
wav=../shared/datasets/audio/speech/test/vctk_p232_003.wav
[ -f "$wav" ] || wav=tests/fixtures/speech_ljspeech_LJ001-0027_0.5-2.0s.wav
$ncodec encode "$wav" -o "$out/speech.ncx"
$ncodec info "$out/speech.ncx"
$ncodec decode "$out/speech.ncx" -o "$out/decoded.wav"
echo "decoded speech: $out/decoded.wav"
