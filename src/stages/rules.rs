//! The `rules` and `auto_replies` stages: the account's Sieve scripts over
//! ManageSieve (RFC 5804).
//!
//! # `rules`
//!
//! Every script of the source is copied, byte for byte, to the
//! destination. Scripts already at the destination are kept: a script of
//! the same name and content counts as present; one of the same name and a
//! different content stays, and the source's is copied as `NAME-migrated`
//! (`NAME-migrated-2`, ...), which the report lists. The source's active
//! script is made active at the destination. Each script is checked by the
//! destination (CHECKSCRIPT) before it is stored (PUTSCRIPT); a refusal is
//! an item failure carrying the server's reason. Each script is
//! checkpointed by name and content hash, so a re-run writes nothing twice.
//!
//! # `auto_replies`
//!
//! The out-of-office reply is Sieve's `vacation` action. Rules and
//! auto-replies often live in one script, so:
//!
//! - With `rules` selected too, whole scripts carry their `vacation`
//!   actions (subject, text, `:days`, `:addresses`, on/off through the
//!   active script): `auto_replies` writes nothing more and counts, for
//!   each source script holding a `vacation`, whether `rules` put it at the
//!   destination.
//! - With `auto_replies` alone, only the `vacation` action(s) of the
//!   source's *active* script (the reply that is on) are copied, verbatim
//!   with all their arguments, into the destination script
//!   [`VACATION_SCRIPT`]. The conditions around them (an enclosing `if`)
//!   are not carried: the reply answers every message, as most providers'
//!   out-of-office settings do. The script is made active only if no
//!   script is active at the destination; otherwise it is stored inactive
//!   and the report says so (activating it would switch off the
//!   destination's own filters). An inactive source script's `vacation` is
//!   a reply that is off, and is not copied.
//!
//! Undo data: scripts created (undo deletes them), scripts overwritten
//! with their old content (undo restores them), and the destination's
//! active script before the first change (undo activates it again).

use std::collections::HashSet;

use anyhow::Context as _;

use super::StageFailure;
use crate::plan::{Endpoint, Server, StageKind};
use crate::protocols::managesieve::{ScriptInfo, SieveError, SieveSession};
use crate::protocols::tls::TlsMode;
use crate::protocols::{SessionConfig, SessionError};
use crate::stages::context::AccountContext;
use crate::stages::context::limits::Permits;
use crate::store::batches::StageCounts;
use crate::store::sieve::SieveRecord;

/// The ManageSieve port (RFC 5804).
pub const SIEVE_PORT: u16 = 4190;

/// The destination script `auto_replies` alone writes.
pub const VACATION_SCRIPT: &str = "mailshift-vacation";

/// How long a ManageSieve server may stay silent.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The ManageSieve server of an endpoint: its `sieve` setting, else its
/// IMAP host on port 4190 with the IMAP TLS mode (STARTTLS where IMAP uses
/// implicit TLS, ManageSieve having no implicit-TLS port).
pub fn sieve_server(endpoint: &Endpoint) -> anyhow::Result<Server> {
    if let Some(server) = &endpoint.sieve {
        return Ok(server.clone());
    }
    let imap = endpoint
        .server
        .as_ref()
        .with_context(|| format!("Account {} has no ManageSieve server", endpoint.email))?;
    Ok(Server {
        host: imap.host.clone(),
        port: SIEVE_PORT,
        tls: match imap.tls {
            TlsMode::Implicit => TlsMode::StartTls,
            other => other,
        },
        accept_invalid_certs: imap.accept_invalid_certs,
    })
}

/// Logs in to a ManageSieve server as the endpoint's user.
pub async fn open(endpoint: &Endpoint, server: &Server) -> anyhow::Result<SieveSession> {
    let refused = |e: &SieveError| matches!(e, SieveError::Session(SessionError::Auth { .. }));
    let connect = async |c: &SessionConfig| SieveSession::connect(c).await;
    Ok(endpoint
        .session(server, TIMEOUT, connect, refused)
        .await??)
}

/// The hash a script is checkpointed by.
fn hash(content: &[u8]) -> String {
    blake3::hash(content).to_hex().to_string()
}

/// Both ends, holding their hosts' connection slots.
struct Pair {
    source: SieveSession,
    dest: SieveSession,
    _slots: Permits,
}

impl Pair {
    async fn connect(ctx: &AccountContext) -> anyhow::Result<Pair> {
        let source = sieve_server(&ctx.plan.source)?;
        let dest = sieve_server(&ctx.plan.destination)?;
        let slots = ctx.connections(&[&source.host, &dest.host]).await?;
        let source = open(&ctx.plan.source, &source)
            .await
            .context("The source's Sieve scripts")?;
        let dest = open(&ctx.plan.destination, &dest)
            .await
            .context("The destination's Sieve scripts")?;
        Ok(Pair {
            source,
            dest,
            _slots: slots,
        })
    }

    async fn logout(self) {
        self.source.logout().await.ok();
        self.dest.logout().await.ok();
    }
}

/// Runs the `rules` stage for one account.
pub async fn run(ctx: &AccountContext) -> Result<StageCounts, StageFailure> {
    let mut counts = StageCounts::default();
    match rules(ctx, &mut counts).await {
        Ok(()) => super::within_budget(ctx, counts, "scripts"),
        Err(error) => Err(StageFailure { error, counts }),
    }
}

/// Runs the `auto_replies` stage for one account.
pub async fn run_auto_replies(ctx: &AccountContext) -> Result<StageCounts, StageFailure> {
    let mut counts = StageCounts::default();
    let result = if ctx.plan.stages.contains(&StageKind::Rules) {
        auto_replies_with_rules(ctx, &mut counts).await
    } else {
        auto_replies_alone(ctx, &mut counts).await
    };
    match result {
        Ok(()) => super::within_budget(ctx, counts, "scripts"),
        Err(error) => Err(StageFailure { error, counts }),
    }
}

/// Every script of a server with its content, in LISTSCRIPTS order.
async fn read_all(session: &mut SieveSession) -> anyhow::Result<Vec<(ScriptInfo, Vec<u8>)>> {
    let mut scripts = Vec::new();
    for info in session.list_scripts().await? {
        let content = session.get_script(&info.name).await?;
        scripts.push((info, content));
    }
    Ok(scripts)
}

/// A name for a copied script that clashes with `name` at the destination.
fn free_name(name: &str, taken: &HashSet<String>) -> String {
    let first = format!("{name}-migrated");
    if !taken.contains(&first) {
        return first;
    }
    (2..)
        .map(|n| format!("{name}-migrated-{n}"))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or(first)
}

/// Checks then stores a script. `Ok(Err(reason))` when the destination
/// refuses it (an item failure); `Err` when the session failed.
async fn put_checked(
    dest: &mut SieveSession,
    name: &str,
    content: &[u8],
) -> anyhow::Result<Result<(), String>> {
    let result = match dest.check_script(content).await {
        Ok(()) => dest.put_script(name, content).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => Ok(Ok(())),
        Err(SieveError::No {
            command, reason, ..
        }) => {
            // A compiler's message spans lines; a report line holds it.
            let reason = reason.split_whitespace().collect::<Vec<_>>().join(" ");
            Ok(Err(format!(
                "the destination refused it ({command}): {reason}"
            )))
        }
        Err(other) => Err(other.into()),
    }
}

async fn rules(ctx: &AccountContext, counts: &mut StageCounts) -> anyhow::Result<()> {
    let id = ctx.account.id;
    let kind = StageKind::Rules;
    let mut pair = Pair::connect(ctx).await?;
    let source = read_all(&mut pair.source).await?;
    let listed = pair.dest.list_scripts().await?;
    let mut dest_active = listed.iter().find(|s| s.active).map(|s| s.name.clone());
    ctx.store
        .remember_sieve_active(id, dest_active.clone())
        .await?;
    let mut taken: HashSet<String> = listed.into_iter().map(|s| s.name).collect();
    let records = ctx.store.sieve_scripts(id, kind).await?;
    let mut activate = None;

    for (info, content) in &source {
        if ctx.shutdown.is_cancelled() {
            break;
        }
        counts.found += 1;
        let item = format!("Sieve script {}", info.name);
        let digest = hash(content);
        let record = records.iter().find(|r| r.source_name == info.name);
        let target = match record {
            Some(r) if r.hash == digest && taken.contains(&r.dest_name) => {
                counts.present += 1;
                if info.active {
                    activate = Some(r.dest_name.clone());
                }
                continue;
            }
            // A script mailshift wrote whose source changed since: rewritten.
            Some(r) if r.created => r.dest_name.clone(),
            _ if taken.contains(&info.name) => {
                let there = pair.dest.get_script(&info.name).await?;
                if hash(&there) == digest {
                    ctx.store
                        .record_sieve_script(
                            id,
                            kind,
                            SieveRecord {
                                source_name: info.name.clone(),
                                dest_name: info.name.clone(),
                                hash: digest,
                                created: false,
                                old_content: None,
                            },
                        )
                        .await?;
                    counts.present += 1;
                    if info.active {
                        activate = Some(info.name.clone());
                    }
                    continue;
                }
                let renamed = free_name(&info.name, &taken);
                super::item_note(
                    ctx,
                    kind,
                    &item,
                    format!(
                        "the destination already has a different script of that name, \
                         which was kept; this one was copied as {renamed}"
                    ),
                )
                .await;
                renamed
            }
            _ => info.name.clone(),
        };
        match put_checked(&mut pair.dest, &target, content).await? {
            Ok(()) => {}
            Err(reason) => {
                counts.failed += 1;
                super::item_note(ctx, kind, &item, reason).await;
                continue;
            }
        }
        ctx.store
            .record_sieve_script(
                id,
                kind,
                SieveRecord {
                    source_name: info.name.clone(),
                    dest_name: target.clone(),
                    hash: digest,
                    created: true,
                    old_content: None,
                },
            )
            .await?;
        counts.copied += 1;
        counts.bytes += content.len() as u64;
        if info.active {
            activate = Some(target.clone());
        }
        taken.insert(target);
    }

    if let Some(name) = activate
        && dest_active.as_deref() != Some(name.as_str())
    {
        pair.dest.set_active(Some(&name)).await?;
        dest_active = Some(name);
    }
    tracing::debug!(active = ?dest_active, "Sieve scripts copied");
    pair.logout().await;
    Ok(())
}

/// `auto_replies` next to `rules`: the vacation travels inside whole
/// scripts; this counts, per source script holding one, whether it is at
/// the destination.
async fn auto_replies_with_rules(
    ctx: &AccountContext,
    counts: &mut StageCounts,
) -> anyhow::Result<()> {
    let server = sieve_server(&ctx.plan.source)?;
    let slots = ctx.connections(&[&server.host]).await?;
    let mut source = open(&ctx.plan.source, &server)
        .await
        .context("The source's Sieve scripts")?;
    let scripts = read_all(&mut source).await?;
    source.logout().await.ok();
    drop(slots);
    let copied = ctx
        .store
        .sieve_scripts(ctx.account.id, StageKind::Rules)
        .await?;
    for (info, content) in &scripts {
        if vacation_actions(&String::from_utf8_lossy(content)).is_empty() {
            continue;
        }
        counts.found += 1;
        let digest = hash(content);
        if copied
            .iter()
            .any(|r| r.source_name == info.name && r.hash == digest)
        {
            counts.present += 1;
        } else {
            // The rules stage reported why.
            counts.skipped += 1;
        }
    }
    Ok(())
}

/// `auto_replies` alone: the active script's `vacation` actions into
/// [`VACATION_SCRIPT`].
async fn auto_replies_alone(ctx: &AccountContext, counts: &mut StageCounts) -> anyhow::Result<()> {
    let id = ctx.account.id;
    let kind = StageKind::AutoReplies;
    let mut pair = Pair::connect(ctx).await?;
    let listed = pair.source.list_scripts().await?;
    let Some(active) = listed.into_iter().find(|s| s.active) else {
        pair.logout().await;
        return Ok(());
    };
    let text = pair.source.get_script(&active.name).await?;
    let text = String::from_utf8_lossy(&text);
    let actions = vacation_actions(&text);
    if actions.is_empty() {
        pair.logout().await;
        return Ok(());
    }
    counts.found += 1;
    let item = format!("Out-of-office reply (Sieve script {})", active.name);
    let content = vacation_script(&ctx.plan.source.email, &active.name, &text, &actions);
    let digest = hash(content.as_bytes());

    let dest = pair.dest.list_scripts().await?;
    let dest_active = dest.iter().find(|s| s.active).map(|s| s.name.clone());
    ctx.store
        .remember_sieve_active(id, dest_active.clone())
        .await?;
    let exists = dest.iter().any(|s| s.name == VACATION_SCRIPT);
    let record = ctx
        .store
        .sieve_scripts(id, kind)
        .await?
        .into_iter()
        .find(|r| r.dest_name == VACATION_SCRIPT);
    let done = record.as_ref().is_some_and(|r| r.hash == digest) && exists;
    if done {
        counts.present += 1;
    } else {
        // Mailshift's own earlier copy is overwritten freely; someone
        // else's script of that name is overwritten with its old content
        // kept for undo.
        let ours = record.as_ref().is_some_and(|r| r.created);
        let old_content = if exists && !ours {
            Some(pair.dest.get_script(VACATION_SCRIPT).await?)
        } else {
            None
        };
        if old_content.as_deref() == Some(content.as_bytes()) {
            counts.present += 1;
        } else {
            match put_checked(&mut pair.dest, VACATION_SCRIPT, content.as_bytes()).await? {
                Ok(()) => {
                    counts.copied += 1;
                    counts.bytes += content.len() as u64;
                }
                Err(reason) => {
                    counts.failed += 1;
                    super::item_note(ctx, kind, &item, reason).await;
                    pair.logout().await;
                    return Ok(());
                }
            }
        }
        ctx.store
            .record_sieve_script(
                id,
                kind,
                SieveRecord {
                    source_name: active.name.clone(),
                    dest_name: VACATION_SCRIPT.to_owned(),
                    hash: digest,
                    created: !exists || ours,
                    old_content,
                },
            )
            .await?;
    }
    match dest_active.as_deref() {
        None => pair.dest.set_active(Some(VACATION_SCRIPT)).await?,
        Some(VACATION_SCRIPT) => {}
        Some(other) if !done => {
            super::item_note(
                ctx,
                kind,
                &item,
                format!(
                    "copied to {VACATION_SCRIPT} but not activated: the destination's \
                     script {other} is active, and only one script can be"
                ),
            )
            .await;
        }
        Some(_) => {}
    }
    pair.logout().await;
    Ok(())
}

/// The destination script holding a source's `vacation` actions.
fn vacation_script(email: &str, script: &str, source: &str, actions: &[String]) -> String {
    let mut requires = vec!["vacation"];
    let all = actions.concat();
    for (tag, extension) in [
        (":seconds", "vacation-seconds"),
        (":fcc", "fcc"),
        (":create", "mailbox"),
        (":flags", "imap4flags"),
        (":specialuse", "special-use"),
        ("${", "variables"),
    ] {
        if all.contains(tag) && source.contains(&format!("\"{extension}\"")) {
            requires.push(extension);
        }
    }
    let list = requires
        .iter()
        .map(|r| format!("\"{r}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let origin = script.replace(['\r', '\n'], " ");
    let mut out = format!(
        "# Out-of-office reply of {email}, from its Sieve script \"{origin}\".\r\n\
         require [{list}];\r\n"
    );
    for action in actions {
        out.push_str(action);
        out.push_str("\r\n");
    }
    out
}

/// Skips a comment, string or multi-line string starting at `i`; returns
/// where it ends, or `None` when none starts there.
fn skip_lexeme(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'#' => Some(
            b[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |p| i + p + 1),
        ),
        b'/' if b.get(i + 1) == Some(&b'*') => Some(
            b[i + 2..]
                .windows(2)
                .position(|w| w == b"*/")
                .map_or(b.len(), |p| i + 2 + p + 2),
        ),
        b'"' => {
            let mut j = i + 1;
            while j < b.len() {
                match b[j] {
                    b'\\' => j += 2,
                    b'"' => return Some(j + 1),
                    _ => j += 1,
                }
            }
            Some(b.len())
        }
        _ if b.len() >= i + 5 && b[i..i + 5].eq_ignore_ascii_case(b"text:") => {
            // Up to the end of the line, then lines until a lone ".".
            let mut j = b[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |p| i + p + 1);
            while j < b.len() {
                let end = b[j..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| j + p + 1);
                let line = &b[j..end];
                if line == b".\r\n" || line == b".\n" || line == b"." {
                    return Some(end);
                }
                j = end;
            }
            Some(b.len())
        }
        _ => None,
    }
}

/// The `vacation` commands of a Sieve script, verbatim from `vacation` to
/// its `;`, wherever they are (top level or inside blocks).
pub fn vacation_actions(script: &str) -> Vec<String> {
    let b = script.as_bytes();
    let mut actions = Vec::new();
    let mut i = 0;
    let mut command_start = true;
    while i < b.len() {
        if let Some(end) = skip_lexeme(b, i) {
            if b[i] != b'#' && b[i] != b'/' {
                command_start = false;
            }
            i = end;
            continue;
        }
        let c = b[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let word = &b[start..i];
            if command_start && word.eq_ignore_ascii_case(b"vacation") {
                // Up to the `;` that ends the command.
                let mut j = i;
                while j < b.len() && b[j] != b';' {
                    j = skip_lexeme(b, j).unwrap_or(j + 1);
                }
                let end = (j + 1).min(b.len());
                actions.push(script[start..end].trim_end().to_owned());
                i = end;
                command_start = true;
                continue;
            }
            command_start = false;
            continue;
        }
        command_start = match c {
            b';' | b'{' | b'}' => true,
            c if c.is_ascii_whitespace() => command_start,
            _ => false,
        };
        i += 1;
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vacation_actions_are_found_verbatim() {
        let script = "require [\"vacation\", \"fileinto\"];\r\n\
            # vacation \"not this\";\r\n\
            if header :contains \"subject\" \"vacation\" { fileinto \"Trips\"; }\r\n\
            if true {\r\n  vacation :days 7 :subject \"Away; back Monday\"\r\n    \
            :addresses [\"a@example.test\"] text:\r\nI am away;\r\n.\r\n;\r\n}\r\n";
        let actions = vacation_actions(script);
        assert_eq!(actions.len(), 1, "{actions:?}");
        assert!(actions[0].starts_with("vacation :days 7 :subject \"Away; back Monday\""));
        assert!(actions[0].ends_with(".\r\n;"));
        assert!(vacation_actions("fileinto \"vacation\";").is_empty());
    }

    #[test]
    fn the_vacation_script_requires_what_its_actions_need() {
        let source = "require [\"vacation\", \"vacation-seconds\"];\nvacation :seconds 60 \"x\";";
        let actions = vacation_actions(source);
        let script = vacation_script("a@example.test", "main", source, &actions);
        assert!(script.contains("require [\"vacation\", \"vacation-seconds\"];"));
        assert!(script.ends_with("vacation :seconds 60 \"x\";\r\n"));
    }

    #[test]
    fn clashing_names_get_a_free_suffix() {
        let taken: HashSet<String> = ["main".into(), "main-migrated".into()].into();
        assert_eq!(free_name("main", &taken), "main-migrated-2");
        assert_eq!(free_name("other", &taken), "other-migrated");
    }

    #[test]
    fn the_sieve_server_defaults_to_the_imap_host() {
        let endpoint = Endpoint {
            kind: crate::plan::EndpointKind::Groupware,
            email: "a@example.test".into(),
            user: "a".into(),
            server: Some(Server {
                host: "imap.example.test".into(),
                port: 993,
                tls: TlsMode::Implicit,
                accept_invalid_certs: false,
            }),
            path: None,
            credential: crate::plan::Credential::None,
            dav_url: None,
            sieve: None,
        };
        let server = sieve_server(&endpoint).unwrap();
        assert_eq!(
            (server.host.as_str(), server.port, server.tls),
            ("imap.example.test", 4190, TlsMode::StartTls)
        );
    }
}
