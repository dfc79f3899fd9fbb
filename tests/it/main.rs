//! Integration tests: real servers on loopback, driven through the library and the binary.
mod autodetect;
mod cli;
mod cmd;
mod imap_client;
mod manifest;
mod notify;
mod support;
mod mail;
mod proxy;
mod status;
mod undo;
mod daemon;
mod reports;
mod preflight;
