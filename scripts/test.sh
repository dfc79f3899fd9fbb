#!/usr/bin/env bash
# The whole test suite, against real servers the tests start themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo test --locked
