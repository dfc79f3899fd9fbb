//! Where a batch, an account and a stage stand. Typed everywhere; the names are
//! their form in the state database, the reports and what users read.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    /// Accepted, waiting for the batch's `start_after` time.
    Scheduled,
    /// Registered, waiting for a free slot.
    Queued,
    /// Its stages are running.
    Running,
    /// Every stage finished without a failed item.
    Completed,
    /// Every stage finished, some items failed (within the error budget).
    CompletedWithErrors,
    /// A stage failed, or the account's items failed beyond its budget.
    Failed,
    /// Stopped by `mailshift cancel`; what was copied stays.
    Cancelled,
    /// Stopped by a shutdown before it finished; the next run resumes it.
    Interrupted,
    /// Its undo is running.
    Undoing,
    /// Its undo finished: the destination is as it was before.
    Undone,
}

impl AccountState {
    /// Every state, in the order of the list above.
    pub const ALL: [AccountState; 10] = [
        AccountState::Scheduled,
        AccountState::Queued,
        AccountState::Running,
        AccountState::Completed,
        AccountState::CompletedWithErrors,
        AccountState::Failed,
        AccountState::Cancelled,
        AccountState::Interrupted,
        AccountState::Undoing,
        AccountState::Undone,
    ];

    /// The name stored and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::Scheduled => "scheduled",
            AccountState::Queued => "queued",
            AccountState::Running => "running",
            AccountState::Completed => "completed",
            AccountState::CompletedWithErrors => "completed_with_errors",
            AccountState::Failed => "failed",
            AccountState::Cancelled => "cancelled",
            AccountState::Interrupted => "interrupted",
            AccountState::Undoing => "undoing",
            AccountState::Undone => "undone",
        }
    }

    /// The state of a stored name.
    pub fn parse(name: &str) -> Option<AccountState> {
        AccountState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether an administrator should look at the account: it failed,
    /// lost items, or was stopped before its end.
    pub fn needs_attention(self) -> bool {
        matches!(
            self,
            AccountState::Failed
                | AccountState::CompletedWithErrors
                | AccountState::Cancelled
                | AccountState::Interrupted
        )
    }

    /// Whether the account is under way (a migration or an undo).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            AccountState::Queued | AccountState::Running | AccountState::Undoing
        )
    }
}

impl fmt::Display for AccountState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageState {
    /// Under way.
    Running,
    /// Finished: every item was copied, found present, left out or failed.
    Done,
    /// Stopped by an error it could not get past.
    Failed,
    /// Cut short by a shutdown; the next run goes on with it.
    Interrupted,
}

impl StageState {
    /// Every state, in the order of the list above.
    pub const ALL: [StageState; 4] = [
        StageState::Running,
        StageState::Done,
        StageState::Failed,
        StageState::Interrupted,
    ];

    /// The name stored and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            StageState::Running => "running",
            StageState::Done => "done",
            StageState::Failed => "failed",
            StageState::Interrupted => "interrupted",
        }
    }

    /// The state of a stored name.
    pub fn parse(name: &str) -> Option<StageState> {
        StageState::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for StageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a batch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    /// Accepted by the daemon, waiting for its `start_after` time.
    Scheduled,
    /// Its accounts are running.
    Running,
    /// Every account completed.
    Completed,
    /// Every account ended, not all of them completed.
    CompletedWithErrors,
    /// Stopped by a shutdown; the next run resumes it.
    Interrupted,
}

impl BatchState {
    /// Every state, in the order of the list above.
    pub const ALL: [BatchState; 5] = [
        BatchState::Scheduled,
        BatchState::Running,
        BatchState::Completed,
        BatchState::CompletedWithErrors,
        BatchState::Interrupted,
    ];

    /// The name stored and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchState::Scheduled => "scheduled",
            BatchState::Running => "running",
            BatchState::Completed => "completed",
            BatchState::CompletedWithErrors => "completed_with_errors",
            BatchState::Interrupted => "interrupted",
        }
    }

    /// The state of a stored name.
    pub fn parse(name: &str) -> Option<BatchState> {
        BatchState::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for BatchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for state in AccountState::ALL {
            assert_eq!(AccountState::parse(state.as_str()), Some(state));
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{state}\""));
        }
        for state in StageState::ALL {
            assert_eq!(StageState::parse(state.as_str()), Some(state));
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{state}\""));
        }
        for state in BatchState::ALL {
            assert_eq!(BatchState::parse(state.as_str()), Some(state));
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{state}\""));
        }
        assert_eq!(AccountState::parse("complete"), None);
    }
}
