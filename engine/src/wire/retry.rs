//! The one retry loop of the protocol's client: bounded attempts with exponential
//! backoff, for transient failures only. Every call may be repeated safely: the worker
//! treats each request idempotently (tickets are chosen by the coordinator, acks are
//! keys, a repeated submit of a ticket it holds is accepted without running it twice).

use std::time::Duration;

/// Retries of transient failures (connect/reset/timeout, HTTP 5xx); never of 4xx or of
/// protocol faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts including the first (at least 1).
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles after each further one.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// What one attempt came to.
pub(crate) enum Attempt<T, E> {
    /// Final: success, or a failure that repeating would not change.
    Done(Result<T, E>),
    /// A transient failure: tried again while attempts remain, else this is the error.
    Transient(E),
}

impl RetryPolicy {
    /// Run `attempt` (told its number, from 1, and whether it is the last one) until it
    /// is [`Attempt::Done`] or the attempts run out, sleeping the backoff in between.
    pub(crate) fn run<T, E>(
        &self,
        mut attempt: impl FnMut(u32, bool) -> Attempt<T, E>,
    ) -> Result<T, E> {
        let max = self.max_attempts.max(1);
        let mut backoff = self.initial_backoff;
        let mut n = 0;
        loop {
            n += 1;
            match attempt(n, n >= max) {
                Attempt::Done(r) => return r,
                Attempt::Transient(e) if n >= max => return Err(e),
                Attempt::Transient(_) => {}
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(self.max_backoff);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        }
    }

    #[test]
    fn transient_failures_are_retried_until_the_attempts_run_out() {
        let mut seen = Vec::new();
        let r: Result<(), u32> = quick(3).run(|n, last| {
            seen.push((n, last));
            Attempt::Transient(n)
        });
        assert_eq!(r, Err(3), "the last attempt's error is the answer");
        assert_eq!(seen, [(1, false), (2, false), (3, true)]);
    }

    #[test]
    fn a_final_answer_stops_the_loop() {
        let mut calls = 0;
        let r: Result<u32, u32> = quick(5).run(|n, _| {
            calls += 1;
            if n == 2 {
                Attempt::Done(Err(400))
            } else {
                Attempt::Transient(503)
            }
        });
        assert_eq!((r, calls), (Err(400), 2));
        let r: Result<u32, u32> = quick(0).run(|n, last| {
            assert!(last, "zero attempts still make one, the last");
            Attempt::Done(Ok(n))
        });
        assert_eq!(r, Ok(1));
    }
}
