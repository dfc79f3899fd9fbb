#!/usr/bin/env bash
# The local demo: installs what it uses if needed (Dovecot and aiosmtpd,
# nothing else), then migrates two mailboxes between two private Dovecot
# servers on loopback and shows status, an incremental run and undo; then
# drops a manifest into a watched folder and shows it done, and shows the
# notification emails an SMTP receiver (aiosmtpd) got, and ends with the
# status page URL of every demo account (for `mailshift serve`). Output is
# left in demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh demo
# The binary too: the watched folder runs `mailshift watch`.
cargo build --locked --release --bin mailshift --example demo
target/release/examples/demo
