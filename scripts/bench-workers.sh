#!/bin/sh
# Runs the workers benchmark: builds mailshift in release mode, then
# `cargo bench --bench workers`, which migrates 1,000 small accounts
# between two local Dovecot servers four ways (SQLite `run`, PostgreSQL
# `run`, PostgreSQL `run --queue` with one worker, then with three) and
# checks every copy.
#
#   scripts/bench-workers.sh                                   # the full run
#   BENCH_ACCOUNTS=20 BENCH_MESSAGES=5 scripts/bench-workers.sh   # a quick one
#
# Every knob is described in docs/benchmarks.md and at the top of
# benches/workers.rs.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --bin mailshift
exec cargo bench --bench workers "$@"
