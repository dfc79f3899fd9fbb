//! `mailshift detect EMAIL...`: what autodetect would use for each
//! address, and where it came from.

use std::io::{self, Write};

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use super::{Exit, OutputFormat};
use crate::autodetect::{self, Attempt, Config, DetectError, Detection, Detector};

/// Printed after `detect --help`.
pub const DETECT_HELP: &str = "\
Sources, in order (the first that answers wins): the built-in provider table
(by the address's domain), Mozilla autoconfig (autoconfig.<domain>, then
<domain>/.well-known/autoconfig, then Thunderbird's ISPDB), DNS SRV records
(RFC 6186, RFC 6764), then the domain's MX hosts matched against the
provider table. See docs/autodetect.md.

Exit codes:
  0  settings found for every address
  1  nothing found for some address
  2  invalid command line (an address that is not one, a bad --dns)
  3  internal error";

/// `mailshift detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Email addresses; addresses of one domain cost one lookup.
    #[arg(required = true, value_name = "EMAIL")]
    pub emails: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// The DNS server to ask, `IP:port` (default: the system's resolver).
    #[arg(long, env = autodetect::DNS_ENV, value_name = "IP:PORT")]
    pub dns: Option<String>,
    /// Replaces the scheme, host and port of every autoconfig URL, e.g.
    /// `http://127.0.0.1:8080` (the Host header keeps the original host).
    #[arg(long, env = autodetect::AUTOCONFIG_ENV, value_name = "URL")]
    pub autoconfig_url: Option<String>,
}

/// One address's answer, as `--format json` prints it.
#[derive(Serialize)]
struct Answer<'a> {
    email: &'a str,
    found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    detection: Option<&'a Detection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Every source asked, when nothing was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    tried: Option<&'a [Attempt]>,
}

/// Runs `detect`.
pub fn detect(args: &DetectArgs) -> anyhow::Result<Exit> {
    let config = match Config::new(args.dns.as_deref(), args.autoconfig_url.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("mailshift: {e}");
            return Ok(Exit::Invalid);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("Starting the async runtime")?;
    let detector = Detector::new(config);
    let results: Vec<Result<Detection, DetectError>> = runtime.block_on(async {
        let mut results = Vec::new();
        for email in &args.emails {
            results.push(detector.detect(email).await);
        }
        results
    });
    if results
        .iter()
        .any(|r| matches!(r, Err(DetectError::NotAnAddress(_))))
    {
        for r in &results {
            if let Err(e @ DetectError::NotAnAddress(_)) = r {
                eprintln!("mailshift: {e}");
            }
        }
        return Ok(Exit::Invalid);
    }

    let mut out = io::stdout().lock();
    match args.format {
        OutputFormat::Json => {
            let answers: Vec<Answer<'_>> = args
                .emails
                .iter()
                .zip(&results)
                .map(|(email, r)| match r {
                    Ok(d) => Answer {
                        email,
                        found: true,
                        detection: Some(d),
                        error: None,
                        tried: None,
                    },
                    Err(e) => Answer {
                        email,
                        found: false,
                        detection: None,
                        error: Some(e.to_string()),
                        tried: match e {
                            DetectError::NotFound { tried, .. } => Some(tried),
                            DetectError::NotAnAddress(_) => None,
                        },
                    },
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &answers).context("Writing the answer")?;
            writeln!(out)?;
        }
        OutputFormat::Text => {
            for (i, (email, r)) in args.emails.iter().zip(&results).enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                match r {
                    Ok(d) => write_detection(&mut out, email, d)?,
                    Err(e) => write_failure(&mut out, email, e)?,
                }
            }
        }
    }
    Ok(if results.iter().all(Result::is_ok) {
        Exit::Success
    } else {
        Exit::AccountsFailed
    })
}

fn write_detection(out: &mut impl Write, email: &str, d: &Detection) -> io::Result<()> {
    let s = &d.settings;
    writeln!(out, "{email}")?;
    writeln!(out, "  found by     {}", d.origin())?;
    if let Some(provider) = &s.provider {
        writeln!(out, "  provider     {provider}")?;
    }
    let services = [
        ("IMAP", &s.imap),
        ("POP3", &s.pop3),
        ("SMTP", &s.smtp),
        ("ManageSieve", &s.sieve),
    ];
    for (name, service) in services {
        if let Some(service) = service {
            writeln!(out, "  {name:<12} {service}")?;
        }
    }
    for (name, url) in [("CalDAV", &s.caldav), ("CardDAV", &s.carddav)] {
        if let Some(url) = url {
            writeln!(out, "  {name:<12} {url}")?;
        }
    }
    if let Some(login) = &s.login {
        writeln!(out, "  login        {login}")?;
    }
    if let Some(note) = &s.note {
        writeln!(out, "  note         {note}")?;
    }
    Ok(())
}

fn write_failure(out: &mut impl Write, email: &str, e: &DetectError) -> io::Result<()> {
    match e {
        DetectError::NotFound { domain, tried } => {
            writeln!(
                out,
                "{email}: no server settings found for {domain}. Tried:"
            )?;
            for attempt in tried {
                writeln!(out, "  {attempt}")?;
            }
            writeln!(
                out,
                "Give the host (and port and tls) in the manifest instead of kind: autodetect."
            )
        }
        DetectError::NotAnAddress(_) => writeln!(out, "{email}: {e}"),
    }
}
