//! The one retry loop of tach-ingest (SPEC §4.3). Connecting to the broker
//! or the database, committing a batch, isolating a message, storing
//! rejections: each goes through [`retry`], so every one of them backs off
//! the same bounded way, ends at once on shutdown, and tells a permanent
//! error (give up now, the input is at fault) from a transient one (wait
//! and try again) in one place, [`Classify`].

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// What an error says about trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The same attempt can succeed later (a server down or restarting, a
    /// connection killed, a timeout).
    Transient,
    /// It never will: the input itself was refused.
    Permanent,
}

/// Errors that know their [`Class`].
pub trait Classify {
    /// Whether retrying can help.
    fn class(&self) -> Class;

    /// True when the attempt got far before failing (a consumer that
    /// consumed for a while): the backoff then starts over from its first wait.
    fn made_progress(&self) -> bool {
        false
    }
}

impl Classify for tach_schema::StoreError {
    fn class(&self) -> Class {
        if self.is_transient() {
            Class::Transient
        } else {
            Class::Permanent
        }
    }
}

/// Broker and startup errors: the servers may come back, so all are transient.
impl Classify for anyhow::Error {
    fn class(&self) -> Class {
        Class::Transient
    }
}

/// How long to wait between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Wait after the first failure.
    pub first: Duration,
    /// Longest wait; each failure doubles the wait up to this.
    pub max: Duration,
}

impl Backoff {
    /// Committing a batch: a database restart should cost well under a second.
    pub const COMMIT: Backoff = Backoff {
        first: Duration::from_millis(100),
        max: Duration::from_secs(5),
    };
    /// Connecting to the broker or the database: at most 5 s, so a
    /// deployment resumes within seconds of its broker coming back.
    pub const CONNECT: Backoff = Backoff {
        first: Duration::from_secs(1),
        max: Duration::from_secs(5),
    };

    /// The wait after `failures` consecutive failures (1 for the first).
    pub fn delay(self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(20);
        self.first.saturating_mul(1 << doublings).min(self.max)
    }
}

/// Why [`retry`] returned without a result.
#[derive(Debug)]
pub enum Stopped<E> {
    /// `cancel` fired while waiting.
    Cancelled,
    /// The error was permanent, or judged so by the `persistent` check.
    GaveUp(E),
}

/// When a transient error keeps recurring for the same input although the
/// server otherwise answers, the input is the likelier cause: after
/// `after_failures` failures in a row, `server_answers` is asked, and if it
/// says yes the error is treated as permanent.
pub struct Persistent<F> {
    /// Failures in a row before asking.
    pub after_failures: u32,
    /// True when the server answers other requests.
    pub server_answers: F,
}

/// The check of a retry that has none.
pub type NoCheck = Persistent<fn() -> std::future::Ready<bool>>;

/// No persistence check: transient errors are retried until cancelled.
pub fn never_persistent() -> Option<NoCheck> {
    None
}

/// Runs `attempt` until it succeeds, fails permanently, or `cancel` fires,
/// waiting by `backoff` between failures and logging each as `what`.
pub async fn retry<T, E, A, AF, P, PF>(
    what: &str,
    backoff: Backoff,
    cancel: &CancellationToken,
    persistent: Option<Persistent<P>>,
    mut attempt: A,
) -> Result<T, Stopped<E>>
where
    E: Classify + Display,
    A: FnMut() -> AF,
    AF: Future<Output = Result<T, E>>,
    P: FnMut() -> PF,
    PF: Future<Output = bool>,
{
    let mut persistent = persistent;
    let mut failures = 0u32;
    loop {
        if cancel.is_cancelled() {
            return Err(Stopped::Cancelled);
        }
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        if error.class() == Class::Permanent {
            return Err(Stopped::GaveUp(error));
        }
        failures = if error.made_progress() {
            1
        } else {
            failures + 1
        };
        if let Some(check) = persistent.as_mut() {
            if failures >= check.after_failures && (check.server_answers)().await {
                tracing::warn!(%error, failures, "{what}: keeps failing while the server answers, giving up on this input");
                return Err(Stopped::GaveUp(error));
            }
        }
        let delay = backoff.delay(failures);
        tracing::warn!(%error, failures, retry_in_ms = delay.as_millis() as u64, "{what}: failed, retrying");
        tokio::select! {
            _ = cancel.cancelled() => return Err(Stopped::Cancelled),
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[derive(Debug)]
    struct Failure(Class);

    impl Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }

    impl Classify for Failure {
        fn class(&self) -> Class {
            self.0
        }
    }

    const FAST: Backoff = Backoff {
        first: Duration::from_millis(1),
        max: Duration::from_millis(2),
    };

    #[test]
    fn backoff_doubles_up_to_its_bound() {
        let delays: Vec<u128> = (1..=7)
            .map(|failures| Backoff::COMMIT.delay(failures).as_millis())
            .collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000]);
        assert_eq!(Backoff::CONNECT.delay(u32::MAX), Duration::from_secs(5));
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_success() {
        let calls = Cell::new(0);
        let result: Result<u32, Stopped<Failure>> = retry(
            "test",
            FAST,
            &CancellationToken::new(),
            never_persistent(),
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 4 {
                        Err(Failure(Class::Transient))
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await;
        assert_eq!(result.ok(), Some(4));
    }

    #[tokio::test]
    async fn a_permanent_error_ends_at_the_first_attempt() {
        let calls = Cell::new(0);
        let result: Result<(), _> = retry(
            "test",
            FAST,
            &CancellationToken::new(),
            never_persistent(),
            || {
                calls.set(calls.get() + 1);
                async { Err(Failure(Class::Permanent)) }
            },
        )
        .await;
        assert!(matches!(
            result,
            Err(Stopped::GaveUp(Failure(Class::Permanent)))
        ));
        assert_eq!(calls.get(), 1);
    }

    #[tokio::test]
    async fn a_recurring_transient_error_is_given_up_only_while_the_server_answers() {
        for (answers, expected_calls) in [(true, 3), (false, 0)] {
            let calls = Cell::new(0);
            let cancel = CancellationToken::new();
            let persistent = Persistent {
                after_failures: 3,
                server_answers: || async move { answers },
            };
            let result: Result<Result<(), Stopped<Failure>>, _> = tokio::time::timeout(
                Duration::from_millis(200),
                retry("test", FAST, &cancel, Some(persistent), || {
                    calls.set(calls.get() + 1);
                    async { Err(Failure(Class::Transient)) }
                }),
            )
            .await;
            match result {
                Ok(Err(Stopped::GaveUp(_))) => assert_eq!(calls.get(), expected_calls),
                Err(_elapsed) => assert!(!answers, "a server that answers ends the retries"),
                Ok(other) => panic!("unexpected {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn cancelling_ends_a_wait_at_once() {
        let cancel = CancellationToken::new();
        let slow = Backoff {
            first: Duration::from_secs(3600),
            max: Duration::from_secs(3600),
        };
        let canceller = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            canceller.cancel();
        });
        let result: Result<(), _> = tokio::time::timeout(
            Duration::from_secs(5),
            retry("test", slow, &cancel, never_persistent(), || async {
                Err(Failure(Class::Transient))
            }),
        )
        .await
        .expect("returns long before the hour-long backoff");
        assert!(matches!(result, Err(Stopped::Cancelled)));
    }
}
