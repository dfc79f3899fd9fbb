//! Who is emailed after a run, and when: each account's own `notify`
//! addresses once per outcome it reaches (completed, completed with
//! errors, failed, undone; every pass only with `notify_on:
//! incremental_passes`), and the batch's `notify` addresses one summary
//! when some account reached a new outcome. An interrupted run sends
//! nothing: the next run resumes and tells. A failure to send is logged;
//! it never fails the migration.

use crate::plan::{NotifyOn, Plan};
use crate::protocols::smtp;
use crate::report::{self, notification, notification::Templates};
use crate::store::Store;
use crate::store::batches::BatchRecord;
use crate::store::status::AccountStatus;

/// Emails the outcomes of a run that was not interrupted.
pub async fn outcomes(plan: &Plan, store: &Store, record: &BatchRecord) {
    let accounts = match store.batch_accounts(record.id).await {
        Ok(accounts) => accounts,
        Err(error) => {
            tracing::warn!(batch_id = %record.public_id, "notifications not sent: {error}");
            return;
        }
    };
    let templates = templates(plan);
    let mut news = false;
    for account in &accounts {
        match announce(plan, store, account).await {
            Ok(true) => {
                news = true;
                if let Some(templates) = &templates {
                    send_account(plan, account, templates).await;
                }
            }
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(migration_id = %account.migration_id, "notification not sent: {error}");
            }
        }
    }
    if !news {
        return;
    }
    match report::BatchReport::collect(store, record).await {
        Ok(Some(report)) => send_batch(plan, &report).await,
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(batch_id = %record.public_id, "batch summary not sent: {error}")
        }
    }
}

/// Emails an account's undo to its own addresses.
pub async fn undone(plan: &Plan, store: &Store, account: &AccountStatus) {
    match announce(plan, store, account).await {
        Ok(true) => {
            if let Some(templates) = templates(plan) {
                send_account(plan, account, &templates).await;
            }
        }
        Ok(false) => {}
        Err(error) => {
            tracing::warn!(migration_id = %account.migration_id, "notification not sent: {error}");
        }
    }
}

/// Whether the account's outcome is to be announced now, recording that
/// it is: an outcome the manifest notifies on, not announced before
/// (unless every pass is to be).
async fn announce(
    plan: &Plan,
    store: &Store,
    account: &AccountStatus,
) -> Result<bool, crate::store::StoreError> {
    let Some(outcome) = NotifyOn::of_state(&account.state) else {
        return Ok(false);
    };
    let every_pass = plan.notify_on.contains(&NotifyOn::IncrementalPasses);
    let last = store.notified(account.key).await?;
    if last.as_deref() == Some(account.state.as_str()) && !every_pass {
        return Ok(false);
    }
    store
        .set_notified(account.key, account.state.clone())
        .await?;
    Ok(plan.notify_on.contains(&outcome))
}

/// The batch's templates, when it has a server to send through.
fn templates(plan: &Plan) -> Option<Templates> {
    plan.smtp.as_ref()?;
    match Templates::load(plan.notification_templates.as_deref()) {
        Ok(templates) => Some(templates),
        Err(error) => {
            tracing::warn!(batch = %plan.batch, "notifications not sent: {error:#}");
            None
        }
    }
}

/// Sends an account's email to its own addresses, if it has any.
async fn send_account(plan: &Plan, account: &AccountStatus, templates: &Templates) {
    let Some(smtp) = &plan.smtp else { return };
    let Some(planned) = plan
        .account(&account.source, &account.destination)
        .filter(|a| !a.notify.is_empty())
    else {
        return;
    };
    let contact = plan.notify.first().map(String::as_str);
    let message = notification::compose(
        &smtp.from,
        &planned.notify,
        account,
        planned.language,
        contact,
        templates,
    );
    let sent = match message {
        Ok(message) => smtp::send(smtp, &planned.notify, &message)
            .await
            .map_err(anyhow::Error::from),
        Err(error) => Err(error.into()),
    };
    if let Err(error) = sent {
        tracing::warn!(migration_id = %account.migration_id, "notification not sent: {error:#}");
    }
}

/// Sends the batch's addresses a summary with its HTML report attached.
async fn send_batch(plan: &Plan, report: &report::BatchReport) {
    let Some(smtp) = &plan.smtp else { return };
    if plan.notify.is_empty() {
        return;
    }
    let sent = match notification::compose_batch(&smtp.from, &plan.notify, report) {
        Ok(message) => smtp::send(smtp, &plan.notify, &message)
            .await
            .map_err(anyhow::Error::from),
        Err(error) => Err(error.into()),
    };
    if let Err(error) = sent {
        tracing::warn!(batch_id = %report.batch_id, "batch summary not sent: {error:#}");
    }
}
