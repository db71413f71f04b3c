#!/usr/bin/env bash
# Installs what ncodec needs from Debian (a C/C++ compiler for libFuzzer and -sys crates,
# Python 3 with venv for the Python package) and checks the Rust toolchain. Safe to run repeatedly.
set -euo pipefail

need=()
command -v cc >/dev/null || need+=(build-essential)
command -v c++ >/dev/null || need+=(g++)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v curl >/dev/null || need+=(curl ca-certificates)
# The Python package (python/): a virtual environment with pip.
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if ((${#need[@]})); then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# ncodec needs Rust 1.95 (edition 2024). Debian's own cargo is older, so use rustup.
if ! command -v cargo >/dev/null || ! cargo --version | awk '{split($2,v,"."); exit !(v[1]>1 || v[2]>=95)}'; then
    if ! command -v rustup >/dev/null; then
        echo "installing Rust with rustup (https://rustup.rs)" >&2
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
        # shellcheck disable=SC1091
        . "$HOME/.cargo/env"
    fi
    rustup toolchain install 1.95 --profile minimal --component rustfmt,clippy
    rustup default 1.95
fi
