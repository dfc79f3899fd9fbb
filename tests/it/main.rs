//! Integration tests: real servers on loopback, driven through the library and the binary.
mod autodetect;
mod browser;
mod cli;
mod cmd;
mod daemon;
mod imap_client;
mod mail;
mod manifest;
mod notify;
mod pop3;
mod preflight;
mod proxy;
mod reports;
mod rules;
mod status;
mod support;
mod undo;
