#!/usr/bin/env bash
# Audio RD of an ncodec audio model on the held-out speech and music test sets, measured
# with the anchors' own metric code (../shared/anchors/audio/measure_audio.py: SNR, SI-SDR,
# mel distances, PESQ-WB and STOI for speech), so the numbers sit next to the Opus/MP3/AAC
# anchors in audio_anchors.json.
#
# Usage: scripts/eval_audio.sh NCODEC_BINARY OUT_DIR [--model ID | --model-dir DIR]
# Needs python3 with numpy, scipy, soundfile, pesq, pystoi (pip install ...).
set -euo pipefail
bin=$(realpath "$1"); out=$(realpath -m "$2"); shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
shared="$here/../shared"
[ -d "$shared/datasets/audio" ] || { echo "needs $shared/datasets/audio" >&2; exit 1; }
dec_args=()
[ "${1:-}" = "--model-dir" ] && dec_args=("$@")
mkdir -p "$out/bs" "$out/dec"
for f in "$shared"/datasets/audio/*/test/*.wav; do
    stem=$(basename "$f" .wav)
    "$bin" encode "$f" -o "$out/bs/$stem.ncx" "$@"
    "$bin" decode "$out/bs/$stem.ncx" -o "$out/dec/$stem.wav" "${dec_args[@]}"
done
python3 "$shared/anchors/audio/measure_audio.py" pairs --ref "$shared/datasets/audio" \
    --glob '*/test/*.wav' --dec "$out/dec" --bitstreams "$out/bs" --rate-setting q0 \
    --label ncodec --out "$out/ncodec-audio.json"
python3 "$here/scripts/audio_compare.py" "$out/ncodec-audio.json" --codecs opus,mp3,aac \
    > "$out/audio_tables.md"
cat "$out/audio_tables.md"
