#!/usr/bin/env bash
# Runs the whole test suite (unit, integration, golden, CLI and doc tests, and the Python
# package's tests in the virtual environment scripts/setup-python.sh makes).
# Tests that need ../shared skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo test --workspace --all-targets
cargo test --workspace --doc
scripts/setup-python.sh
.venv/bin/python -m pytest -q -p no:cacheprovider python/tests
