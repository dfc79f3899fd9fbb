#!/usr/bin/env bash
# The local demo: installs Dovecot if needed, then migrates two mailboxes
# between two private Dovecot servers on loopback and shows status,
# an incremental run and undo. Output is left in demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo run --locked --release --example demo
