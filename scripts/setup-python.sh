#!/usr/bin/env bash
# The Python package's environment: a virtual environment in .venv with what
# python/requirements-dev.txt lists (maturin, NumPy, pytest, Pillow, ruff, mypy, Ray Data),
# PyTorch, and the `ncodec` package built from
# python/ into it (maturin develop, the dev profile: it shares target/ with cargo).
#
#   scripts/setup-python.sh && . .venv/bin/activate && python -c 'import ncodec'
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
[ -x .venv/bin/python ] || python3 -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -r python/requirements-dev.txt
# PyTorch for the DataLoader example and test: the CPU build from PyTorch's own index
# when it is reachable, else PyPI's build, whose CUDA libraries (about 4 GB) it must have
# even to import, though it then runs on the CPU.
if ! python -c 'import torch' 2>/dev/null; then
    python -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu 2>/dev/null ||
        python -m pip install -q torch
fi
(cd python && maturin develop -q)
