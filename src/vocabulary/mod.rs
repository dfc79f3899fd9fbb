//! The shared vocabulary: the types every layer speaks, from the manifest
//! to the protocol clients and the store. This module imports nothing else
//! of the crate, so any layer may use it without a cycle.
//!
//! - [`Secret`]: a password or token that never prints itself.
//! - [`PasswordHash`]: a password kept as its PBKDF2 hash, for a login.
//! - [`Credential`]: where a secret comes from, read only when needed.
//! - [`Server`] and [`TlsMode`]: where a server is, how to secure it.
//! - [`StageKind`]: the options of the seed's list (mail, contacts, ...).
//! - [`BatchState`], [`AccountState`] and [`StageState`]: where a batch,
//!   an account and a stage stand; their names appear only where they are stored or shown.

mod credential;
mod password;
mod secret;
mod server;
mod service_account;
mod stage;
mod state;

pub use credential::{AdminLogin, AdminStyle, Credential, CredentialError, TokenSource};
pub use password::{DEFAULT_ITERATIONS, PasswordHash, PasswordHashError};
pub use secret::Secret;
pub use server::{Server, TlsMode};
pub use service_account::{
    ClientSecret, GoogleServiceAccount, MICROSOFT_TOKEN_URL, MicrosoftApp, ServiceAccount,
};
pub use stage::StageKind;
pub use state::{AccountState, BatchState, JobState, StageState};
