//! `mailshift plan --check` against real Dovecot servers.
