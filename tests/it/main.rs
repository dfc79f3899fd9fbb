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
mod preflight;
mod proxy;
mod reports;
mod status;
mod support;
mod undo;
