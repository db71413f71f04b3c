#!/usr/bin/env bash
# The fuzz campaign: runs every fuzz target with libFuzzer (cargo-fuzz on the stable
# toolchain, no sanitizer), each until it has run RUNS inputs or for SECONDS, whichever
# comes first, a few targets at a time, and prints executions, coverage and findings.
#
#   scripts/fuzz.sh                         # every target, 10^6 runs or 1 h each
#   scripts/fuzz.sh -s 600 decode_wavelet   # one target for 10 minutes
#   scripts/fuzz.sh -r 100000 -j 1          # a short pass, one target at a time
#   scripts/fuzz.sh -c                      # replay every corpus once (2 s limit)
#
# Working corpora grow in fuzz/corpus/<target> (ignored by git; started from the
# committed seeds in fuzz/seeds/<target>), crashes, timeouts and out-of-memory inputs land
# in fuzz/artifacts/<target>, logs in fuzz/logs/<target>.log. A run that finds anything
# exits 1. Limits per input: 2 s and 1 GiB (issue 40: no file under 1 MB may take more).
# The time limit is wall time: on a busy machine (or with `nice`) raise it with -t and
# afterwards replay the corpora on an idle one with -c.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=1000000
SECONDS_EACH=3600
JOBS=$(nproc)
TIMEOUT=2
REPLAY=0
usage() {
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    echo "options: -r RUNS  -s SECONDS  -j PARALLEL_TARGETS  -t SECONDS_PER_INPUT  -c (replay corpora)"
}
while getopts "r:s:j:t:ch" opt; do
    case $opt in
        r) RUNS=$OPTARG ;;
        s) SECONDS_EACH=$OPTARG ;;
        j) JOBS=$OPTARG ;;
        t) TIMEOUT=$OPTARG ;;
        c) REPLAY=1 ;;
        *) usage; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

ALL_TARGETS=(container_read decode_wavelet decode_hyperprior decode_walloc_image
    decode_walloc_audio latents_walloc entropy_decode sequential_decode latent_context
    latent_learned wavelet_decode)
TARGETS=("${@:-${ALL_TARGETS[@]}}")

if ! command -v cargo-fuzz >/dev/null; then
    echo "installing cargo-fuzz (once)…"
    cargo install cargo-fuzz --version 0.13.2 --locked
fi
# libFuzzer's instrumentation needs flags the stable compiler accepts only with
# RUSTC_BOOTSTRAP; the sanitizers need nightly, so none is used (Rust code is memory-safe
# outside `unsafe`, and what is looked for here is panics, hangs and huge allocations).
export RUSTC_BOOTSTRAP=1
FUZZ=(cargo fuzz)
FLAGS=(--fuzz-dir fuzz --sanitizer none --features container)
# The targets that run the learned models spend three quarters of their time in the
# comparison hooks of the convolutions' loops: they are built without them, in their own
# folder (coverage of branches still guides them; magic values come from the seeds).
MODEL_TARGETS=" decode_hyperprior decode_walloc_image decode_walloc_audio latents_walloc "
MODEL_FLAGS=(--no-trace-compares --target-dir fuzz/target-models)
flags_of() {
    if [[ $MODEL_TARGETS == *" $1 "* ]]; then
        echo "${FLAGS[*]} ${MODEL_FLAGS[*]}"
    else
        echo "${FLAGS[*]}"
    fi
}
"${FUZZ[@]}" build "${FLAGS[@]}"
"${FUZZ[@]}" build "${FLAGS[@]}" "${MODEL_FLAGS[@]}"

mkdir -p fuzz/logs
run_target() {
    local t=$1
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    local seeds=()
    [ -d "fuzz/seeds/$t" ] && seeds=("fuzz/seeds/$t")
    local log="fuzz/logs/$t.log" runs=$RUNS
    if [ "$REPLAY" = 1 ]; then
        # -runs=0: every input of the corpus and seeds once, then stop.
        log="fuzz/logs/$t.replay.log" runs=0
    fi
    # shellcheck disable=SC2046 # the flags are words
    "${FUZZ[@]}" run $(flags_of "$t") "$t" "fuzz/corpus/$t" "${seeds[@]}" -- \
        -runs="$runs" -max_total_time="$SECONDS_EACH" -timeout="$TIMEOUT" -rss_limit_mb=1024 \
        -malloc_limit_mb=1024 -max_len=8192 -use_value_profile=1 -print_final_stats=1 \
        -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1 || true
}

running=0
for t in "${TARGETS[@]}"; do
    run_target "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

found=0
printf '%-22s %12s %8s %9s %10s %8s %8s\n' target executions "exec/s" coverage "slowest s" "peak MB" findings
for t in "${TARGETS[@]}"; do
    log="fuzz/logs/$t.log"
    [ "$REPLAY" = 1 ] && log="fuzz/logs/$t.replay.log"
    stat() { grep -o "^stat::$1: *[0-9]*" "$log" | tail -1 | grep -o '[0-9]*$' || echo '?'; }
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
    # Crashes, timeouts, out-of-memory and leaks are findings; slow-unit reports (inputs
    # over 10 s of wall time, which a loaded machine also produces) are replayed by hand.
    n=$(find "fuzz/artifacts/$t" -type f \( -name 'crash-*' -o -name 'timeout-*' \
        -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
    slow=$(find "fuzz/artifacts/$t" -type f -name 'slow-unit-*' | wc -l)
    [ "$slow" -gt 0 ] && echo "$t: $slow slow-unit reports in fuzz/artifacts/$t (replay them)"
    found=$((found + n))
    printf '%-22s %12s %8s %9s %10s %8s %8s\n' "$t" "$(stat number_of_executed_units)" \
        "$(stat average_exec_per_sec)" "$cov" "$(stat slowest_unit_time_sec)" \
        "$(stat peak_rss_mb)" "$n"
done
if [ "$found" -gt 0 ]; then
    echo "findings in fuzz/artifacts/: replay one with"
    echo "  cargo run --release -p ncodec --example fuzz_replay -- FAMILY FILE"
    echo "or in the fuzzing build: RUSTC_BOOTSTRAP=1 cargo fuzz run \$(flags) TARGET FILE"
    exit 1
fi
