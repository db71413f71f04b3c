#!/usr/bin/env bash
# Runs the whole test suite (unit, integration, golden, CLI and doc tests).
# Tests that need ../shared skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo test --workspace --all-targets
cargo test --workspace --doc
