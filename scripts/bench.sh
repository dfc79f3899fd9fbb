#!/bin/sh
# Runs the mail benchmark: builds mailshift in release mode, then
# `cargo bench --bench mail`, which migrates a generated 20-account corpus
# between two local Dovecot servers and compares with mbsync.
#
#   scripts/bench.sh                                  # the full run
#   BENCH_ACCOUNTS=4 BENCH_MESSAGES=100 scripts/bench.sh   # a quick one
#
# Every knob is described in docs/benchmarks.md.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --bin mailshift
exec cargo bench --bench mail "$@"
