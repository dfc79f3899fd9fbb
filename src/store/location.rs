//! Where the state lives: an SQLite file (the default) or a PostgreSQL
//! server (`postgres://user:password@host/db`), as `--state` and
//! `MAILSHIFT_STATE` name it. A PostgreSQL URL prints with its password as
//! `***`, so that it can appear in logs and errors.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::vocabulary::Secret;

/// The state database's location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    /// An SQLite file.
    File(PathBuf),
    /// A PostgreSQL database.
    Postgres(PostgresUrl),
}

/// A PostgreSQL connection URL, which may hold a password.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(Secret);

impl PostgresUrl {
    /// The URL itself, password included: only for connecting.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl StateLocation {
    /// The SQLite file, if the state is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            StateLocation::File(path) => Some(path),
            StateLocation::Postgres(_) => None,
        }
    }
}

impl FromStr for StateLocation {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(
            if text.starts_with("postgres://") || text.starts_with("postgresql://") {
                StateLocation::Postgres(PostgresUrl(Secret::new(text)))
            } else {
                StateLocation::File(PathBuf::from(text))
            },
        )
    }
}

/// In a configuration file, the same text as `--state`.
impl<'de> serde::Deserialize<'de> for StateLocation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(text.parse().unwrap_or_else(|never| match never {}))
    }
}

impl From<&Path> for StateLocation {
    fn from(path: &Path) -> Self {
        StateLocation::File(path.to_owned())
    }
}

impl From<&PathBuf> for StateLocation {
    fn from(path: &PathBuf) -> Self {
        StateLocation::File(path.clone())
    }
}

impl From<&StateLocation> for StateLocation {
    fn from(location: &StateLocation) -> Self {
        location.clone()
    }
}

impl From<PathBuf> for StateLocation {
    fn from(path: PathBuf) -> Self {
        StateLocation::File(path)
    }
}

impl fmt::Display for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateLocation::File(path) => write!(f, "{}", path.display()),
            StateLocation::Postgres(url) => write!(f, "{url}"),
        }
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redacted(self.expose()))
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

/// The URL with the password of its user part, and any `password=`
/// parameter, replaced by `***`.
fn redacted(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user_info, hosts)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{user}:***@{hosts}"),
            None => format!("{user_info}@{hosts}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("&");
            format!("{path}?{query}")
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> String {
        text.parse::<StateLocation>().unwrap().to_string()
    }

    #[test]
    fn postgres_passwords_never_print() {
        assert_eq!(
            shown("postgres://mail:s3cr%2Ft@db.example:5432/state"),
            "postgres://mail:***@db.example:5432/state"
        );
        assert_eq!(
            shown("postgresql://db/state?user=mail&password=s3cret&sslmode=disable"),
            "postgresql://db/state?user=mail&password=***&sslmode=disable"
        );
        let location: StateLocation = "postgres://u:pw@h/d".parse().unwrap();
        assert!(!format!("{location:?}").contains("pw"));
        assert_eq!(shown("postgres://u@h/d"), "postgres://u@h/d");
    }

    #[test]
    fn anything_else_is_a_file() {
        assert_eq!(
            "state/mailshift.db".parse::<StateLocation>().unwrap(),
            StateLocation::File("state/mailshift.db".into())
        );
    }
}
