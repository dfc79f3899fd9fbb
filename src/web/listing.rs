//! The accounts of a batch as the dashboard and the API list them:
//! searched, filtered by state, sorted, one page at a time.

use serde::{Deserialize, Serialize};

use crate::store::status::{AccountLine, BatchStatus};
use crate::vocabulary::AccountState;

/// Accounts per page unless asked otherwise, and at most.
const PER_PAGE: usize = 50;
const MAX_PER_PAGE: usize = 500;

/// What a listing asks for (the query string).
#[derive(Debug, Default, Deserialize)]
pub struct Query {
    /// Only accounts in this state (its stored name).
    pub state: Option<String>,
    /// Only accounts whose address or migration ID contains this.
    pub q: Option<String>,
    /// `source` (default), `destination`, `state` or `id`.
    pub sort: Option<String>,
    /// The page, from 1.
    pub page: Option<usize>,
    pub per_page: Option<usize>,
}

/// One page of accounts.
#[derive(Debug, Serialize)]
pub struct Listing {
    pub batch_id: String,
    pub name: String,
    /// Accounts matching, all pages together.
    pub matching: usize,
    pub page: usize,
    pub pages: usize,
    pub per_page: usize,
    pub accounts: Vec<AccountLine>,
}

/// Accounts of a batch per state, for its line in the batch list.
#[derive(Debug, Serialize)]
pub struct BatchLine {
    pub batch_id: String,
    pub name: String,
    pub state: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub accounts: usize,
    /// Accounts that have finished, one way or another.
    pub finished: usize,
    pub percent: usize,
    /// Accounts per state, by stored name.
    pub by_state: std::collections::BTreeMap<&'static str, usize>,
}

impl BatchLine {
    /// The line of `batch`.
    pub fn of(batch: &BatchStatus) -> BatchLine {
        let mut by_state = std::collections::BTreeMap::new();
        for account in &batch.accounts {
            *by_state.entry(account.state.as_str()).or_default() += 1;
        }
        let finished = batch
            .accounts
            .iter()
            .filter(|a| !a.state.is_active() && a.state != AccountState::Scheduled)
            .count();
        let accounts = batch.accounts.len();
        BatchLine {
            batch_id: batch.batch_id.clone(),
            name: batch.name.clone(),
            state: batch.state.as_str().replace('_', " "),
            created_at: batch.created_at,
            updated_at: batch.updated_at,
            accounts,
            finished,
            // An empty batch has nothing left to do.
            percent: (finished * 100).checked_div(accounts).unwrap_or(100),
            by_state,
        }
    }
}

impl Listing {
    /// The page of `batch`'s accounts `query` asks for.
    pub fn of(batch: BatchStatus, query: &Query) -> Listing {
        let state = query
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(AccountState::parse);
        let needle = query
            .q
            .as_deref()
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty());
        let mut accounts: Vec<AccountLine> = batch
            .accounts
            .into_iter()
            .filter(|a| state.is_none_or(|s| s == Some(a.state)))
            .filter(|a| {
                needle.as_deref().is_none_or(|n| {
                    a.source.to_lowercase().contains(n)
                        || a.destination.to_lowercase().contains(n)
                        || a.migration_id.to_lowercase().contains(n)
                })
            })
            .collect();
        match query.sort.as_deref() {
            Some("destination") => accounts.sort_by(|a, b| a.destination.cmp(&b.destination)),
            Some("state") => accounts
                .sort_by(|a, b| (a.state.as_str(), &a.source).cmp(&(b.state.as_str(), &b.source))),
            Some("id") => accounts.sort_by(|a, b| a.migration_id.cmp(&b.migration_id)),
            _ => accounts.sort_by(|a, b| a.source.cmp(&b.source)),
        }
        let per_page = query.per_page.unwrap_or(PER_PAGE).clamp(1, MAX_PER_PAGE);
        let matching = accounts.len();
        let pages = matching.div_ceil(per_page).max(1);
        let page = query.page.unwrap_or(1).clamp(1, pages);
        let accounts = accounts
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect();
        Listing {
            batch_id: batch.batch_id,
            name: batch.name,
            matching,
            page,
            pages,
            per_page,
            accounts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::BatchState;

    fn batch(n: usize) -> BatchStatus {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        BatchStatus {
            batch_id: "B1".into(),
            name: "staff".into(),
            state: BatchState::Running,
            created_at: at,
            updated_at: at,
            accounts: (0..n)
                .map(|i| AccountLine {
                    migration_id: format!("ID{i:05}"),
                    source: format!("user{:05}@old.example", n - i),
                    destination: format!("user{i:05}@new.example"),
                    state: if i % 3 == 0 {
                        AccountState::Failed
                    } else {
                        AccountState::Completed
                    },
                    stage: None,
                })
                .collect(),
        }
    }

    #[test]
    fn accounts_are_filtered_sorted_and_paged() {
        let query = Query {
            state: Some("failed".into()),
            per_page: Some(10),
            page: Some(2),
            ..Query::default()
        };
        let listing = Listing::of(batch(100), &query);
        assert_eq!((listing.matching, listing.pages, listing.page), (34, 4, 2));
        assert_eq!(listing.accounts.len(), 10);
        assert!(
            listing
                .accounts
                .iter()
                .all(|a| a.state == AccountState::Failed)
        );
        assert!(
            listing
                .accounts
                .windows(2)
                .all(|w| w[0].source < w[1].source)
        );

        let search = Query {
            q: Some("ID00042".into()),
            ..Query::default()
        };
        let found = Listing::of(batch(100), &search);
        assert_eq!(found.matching, 1);
        let past_the_end = Query {
            page: Some(99),
            ..Query::default()
        };
        assert_eq!(Listing::of(batch(100), &past_the_end).page, 2);
        let line = BatchLine::of(&batch(100));
        assert_eq!(
            (line.accounts, line.finished, line.percent),
            (100, 100, 100)
        );
        assert_eq!(line.by_state["failed"], 34);
    }
}
