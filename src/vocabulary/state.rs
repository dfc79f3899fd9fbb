//! Where a batch, an account, a stage and a daemon job stand. Typed
//! everywhere; the names are their form in the state database, the reports
//! and what users read.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A state enum with its stored names: `ALL`, `as_str`, `parse`,
/// `Display`, and serde under the same names.
macro_rules! states {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every state, in the order of the list above.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name stored and shown to users.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The state of a stored name.
            pub fn parse(name: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|s| s.as_str() == name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

states! {
    /// Where an account stands.
    pub enum AccountState {
        /// Accepted, waiting for the batch's `start_after` time.
        Scheduled = "scheduled",
        /// Registered, waiting for a free slot.
        Queued = "queued",
        /// Its stages are running.
        Running = "running",
        /// Every stage finished without a failed item.
        Completed = "completed",
        /// Every stage finished, some items failed (within the error budget).
        CompletedWithErrors = "completed_with_errors",
        /// A stage failed, or the account's items failed beyond its budget.
        Failed = "failed",
        /// Stopped by `mailshift cancel`; what was copied stays.
        Cancelled = "cancelled",
        /// Stopped by a shutdown before it finished; the next run resumes it.
        Interrupted = "interrupted",
        /// Its undo is running.
        Undoing = "undoing",
        /// Its undo finished: the destination is as it was before.
        Undone = "undone",
    }
}

impl AccountState {
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

states! {
    /// Where a stage stands.
    pub enum StageState {
        /// Under way.
        Running = "running",
        /// Finished: every item was copied, found present, left out or failed.
        Done = "done",
        /// Stopped by an error it could not get past.
        Failed = "failed",
        /// Cut short by a shutdown; the next run goes on with it.
        Interrupted = "interrupted",
    }
}

states! {
    /// Where a batch stands.
    pub enum BatchState {
        /// Accepted by the daemon, waiting for its `start_after` time.
        Scheduled = "scheduled",
        /// Its accounts are running.
        Running = "running",
        /// Every account completed.
        Completed = "completed",
        /// Every account ended, not all of them completed.
        CompletedWithErrors = "completed_with_errors",
        /// Stopped by a shutdown; the next run resumes it.
        Interrupted = "interrupted",
    }
}

states! {
    /// Where a manifest the daemon accepted stands; `done` and `failed`
    /// are also the folders it is filed in.
    pub enum JobState {
        /// Waiting for its `start_after` time.
        Scheduled = "scheduled",
        /// Its batch is running (a restarted daemon resumes it).
        Running = "running",
        /// Its batch ended with every account completed.
        Done = "done",
        /// Its batch ended with some account not completed, or it could
        /// not start.
        Failed = "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for &state in AccountState::ALL {
            assert_eq!(AccountState::parse(state.as_str()), Some(state));
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{state}\""));
        }
        for &state in StageState::ALL {
            assert_eq!(StageState::parse(state.as_str()), Some(state));
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{state}\""));
        }
        for &state in BatchState::ALL {
            assert_eq!(BatchState::parse(state.as_str()), Some(state));
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{state}\""));
        }
        for &state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{state}\""));
        }
        assert_eq!(AccountState::parse("complete"), None);
    }
}
