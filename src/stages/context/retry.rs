//! Retries with exponential backoff and jitter.

use std::time::Duration;

use futures::future::BoxFuture;

use super::AccountContext;

/// How often and how patiently a transient failure is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The delay before the first retry; it doubles after each one.
    pub base: Duration,
    /// The longest delay between two attempts.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 8,
            base: Duration::from_millis(500),
            max: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1 for the first retry): the
    /// doubled base, capped, with "equal jitter" (half fixed, half random) so
    /// that accounts cut off together do not all come back together.
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(self.max);
        let half = exp / 2;
        half + half.mul_f64(rand::random::<f64>())
    }
}

/// One attempt of a retried pass, over the state that outlives attempts.
pub type Attempt<S> =
    for<'a> fn(&'a AccountContext, &'a mut S) -> BoxFuture<'a, anyhow::Result<()>>;

/// Runs `attempt` until it succeeds, fails in a way `retryable` does not
/// accept, or has been tried `ctx.retry.attempts` times, waiting
/// [`RetryPolicy::delay`] between tries and saying why for `account`. A
/// cancelled account stops between tries, with `Ok`: what was done is in
/// the attempts' own checkpoints and in `state`.
pub async fn retrying<S: Send>(
    ctx: &AccountContext,
    account: &str,
    retryable: fn(&anyhow::Error) -> bool,
    state: &mut S,
    attempt: Attempt<S>,
) -> anyhow::Result<()> {
    let mut tries = 1;
    loop {
        if ctx.shutdown.is_cancelled() {
            return Ok(());
        }
        match attempt(ctx, state).await {
            Ok(()) => return Ok(()),
            Err(error) if retryable(&error) && tries < ctx.retry.attempts => {
                let delay = ctx.retry.delay(tries);
                tracing::warn!(
                    account,
                    "{error:#}; retrying in {:.1}s",
                    delay.as_secs_f64()
                );
                tries += 1;
                // A stop does not wait out the back-off.
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = ctx.shutdown.cancelled() => return Ok(()),
                }
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_capped() {
        let policy = RetryPolicy {
            attempts: 10,
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        let first = policy.delay(1);
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let third = policy.delay(3);
        assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
        for retry in 5..40 {
            assert!(policy.delay(retry) <= Duration::from_secs(1));
            assert!(policy.delay(retry) >= Duration::from_millis(500));
        }
    }
}
