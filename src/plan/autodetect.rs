//! Fills in the servers of `kind: autodetect` endpoints.
//!
//! [`super::build`] plans such an endpoint (without a `host`) as IMAP with
//! no server; [`resolve`] asks the [`Detector`] for every such address —
//! each domain once, several domains at a time — and fills in the IMAP
//! server, the login name (when the manifest left it to the address), and
//! the CalDAV/CardDAV URL and ManageSieve server when found and not given.
//! [`resolve_from_env`] turns a [`Plan`] into a [`ResolvedPlan`] or says
//! which endpoints autodetect could not fill in.

use std::fmt;

use futures::StreamExt as _;
use serde::Serialize;

use super::{Endpoint, Plan, ResolvedPlan, Server};
use crate::autodetect::{Config, Detection, Detector};

/// Domains looked up at the same time.
const PARALLEL_LOOKUPS: usize = 16;

/// Which end of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The account's source.
    Source,
    /// The account's destination.
    Destination,
}

impl Side {
    /// `source` or `destination`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Destination => "destination",
        }
    }
}

/// An endpoint autodetect filled in, and from where.
#[derive(Debug, Clone, Serialize)]
pub struct Resolved {
    /// The account's index in the plan.
    pub account: usize,
    /// Which end was filled in.
    pub side: Side,
    /// What autodetect found, and where.
    pub detection: Detection,
}

/// An endpoint autodetect could not fill in.
#[derive(Debug, Clone, Serialize)]
pub struct Unresolved {
    /// The account's index in the plan.
    pub account: usize,
    /// Where the account is written: `file:line` or `file: row N`.
    pub origin: String,
    /// Which end is missing.
    pub side: Side,
    /// The address autodetect was asked about.
    pub email: String,
    /// Why, naming every source tried.
    pub error: String,
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: error: {} {}: autodetect failed: {}; give the host (and port and tls) instead",
            self.origin,
            self.side.name(),
            self.email,
            self.error
        )
    }
}

/// What [`resolve`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// Endpoints filled in.
    pub resolved: Vec<Resolved>,
    /// Endpoints autodetect could not fill in.
    pub unresolved: Vec<Unresolved>,
}

/// Autodetect failed for some endpoints: one line each.
#[derive(Debug, Clone)]
pub struct Failed(pub Vec<Unresolved>);

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(Unresolved::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for Failed {}

/// Whether an endpoint waits for autodetect: a mail server endpoint
/// planned without a server.
pub fn pending(endpoint: &Endpoint) -> bool {
    endpoint.server.is_none() && endpoint.path.is_none()
}

/// Whether any endpoint of `plan` waits for autodetect.
pub fn any_pending(plan: &Plan) -> bool {
    plan.accounts
        .iter()
        .any(|a| pending(&a.source) || pending(&a.destination))
}

/// Fills in every pending endpoint of `plan` that autodetect can find.
/// The others stay without a server and are listed as unresolved.
pub async fn resolve(plan: &mut Plan, detector: &Detector) -> Outcome {
    let mut wanted: Vec<(usize, Side, String)> = Vec::new();
    for (index, account) in plan.accounts.iter().enumerate() {
        for (side, endpoint) in [
            (Side::Source, &account.source),
            (Side::Destination, &account.destination),
        ] {
            if pending(endpoint) {
                wanted.push((index, side, endpoint.email.clone()));
            }
        }
    }
    let answers: Vec<_> = futures::stream::iter(wanted)
        .map(|(index, side, email)| async move {
            let answer = detector.detect(&email).await;
            (index, side, email, answer)
        })
        .buffered(PARALLEL_LOOKUPS)
        .collect()
        .await;

    let mut outcome = Outcome::default();
    for (index, side, email, answer) in answers {
        let account = &mut plan.accounts[index];
        let origin = account.origin.clone();
        let endpoint = match side {
            Side::Source => &mut account.source,
            Side::Destination => &mut account.destination,
        };
        let unresolved = |error: String| Unresolved {
            account: index,
            origin: origin.clone(),
            side,
            email: email.clone(),
            error,
        };
        match answer {
            Ok(detection) => match apply(endpoint, &detection) {
                Ok(()) => outcome.resolved.push(Resolved {
                    account: index,
                    side,
                    detection,
                }),
                Err(why) => outcome.unresolved.push(unresolved(why)),
            },
            Err(e) => outcome.unresolved.push(unresolved(e.to_string())),
        }
    }
    outcome
}

/// Resolves every pending endpoint with a detector configured from the
/// environment (`MAILSHIFT_DNS`, `MAILSHIFT_AUTOCONFIG_URL`): the one way
/// to a [`ResolvedPlan`], the only kind of plan the engine runs.
pub async fn resolve_from_env(mut plan: Plan) -> Result<ResolvedPlan, Failed> {
    if !any_pending(&plan) {
        return Ok(ResolvedPlan(plan));
    }
    let config = Config::from_env().map_err(|e| everything_pending(&plan, &e))?;
    let outcome = resolve(&mut plan, &Detector::new(config)).await;
    for r in &outcome.resolved {
        let account = &plan.accounts[r.account];
        let endpoint = match r.side {
            Side::Source => &account.source,
            Side::Destination => &account.destination,
        };
        let server = endpoint.server.as_ref().map(ToString::to_string);
        tracing::info!(
            "{} {}: {} from {}",
            r.side.name(),
            endpoint.email,
            server.unwrap_or_default(),
            r.detection.origin()
        );
    }
    if outcome.unresolved.is_empty() {
        Ok(ResolvedPlan(plan))
    } else {
        Err(Failed(outcome.unresolved))
    }
}

/// Every pending endpoint, failed for one reason.
fn everything_pending(plan: &Plan, error: &str) -> Failed {
    let mut failed = Vec::new();
    for (index, a) in plan.accounts.iter().enumerate() {
        for (side, e) in [
            (Side::Source, &a.source),
            (Side::Destination, &a.destination),
        ] {
            if pending(e) {
                failed.push(Unresolved {
                    account: index,
                    origin: a.origin.clone(),
                    side,
                    email: e.email.clone(),
                    error: error.to_owned(),
                });
            }
        }
    }
    Failed(failed)
}

/// Puts a detection into an endpoint; `Err` when it gives no IMAP server.
fn apply(endpoint: &mut Endpoint, detection: &Detection) -> Result<(), String> {
    let s = &detection.settings;
    let Some(imap) = &s.imap else {
        let pop3 = s
            .pop3
            .as_ref()
            .map(|p| format!(" (only POP3, at {p}: give `kind: pop3` and the host)"))
            .unwrap_or_default();
        return Err(format!("{} names no IMAP server{pop3}", detection.origin()));
    };
    endpoint.server = Some(Server {
        host: imap.host.clone(),
        port: imap.port,
        tls: imap.tls,
        accept_invalid_certs: false,
    });
    if endpoint.user.eq_ignore_ascii_case(&endpoint.email)
        && let Some(login) = &s.login
    {
        endpoint.user = login.clone();
    }
    if endpoint.dav_url.is_none() {
        endpoint.dav_url = s.caldav.clone().or_else(|| s.carddav.clone());
    }
    if endpoint.sieve.is_none() {
        endpoint.sieve = s.sieve.as_ref().map(|v| Server {
            host: v.host.clone(),
            port: v.port,
            tls: v.tls,
            accept_invalid_certs: false,
        });
    }
    Ok(())
}
