//! Waiting, as something the caller can replace.
//!
//! The race and the buy's task-page polling never sleep directly: they ask a
//! [`Waiter`]. The real one sleeps on tokio's clock; tests pass one that
//! records each duration and returns at once, so a schedule of 30, 60, 120 s
//! backoffs runs in no real time and can be asserted exactly.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Something that can wait. The real one sleeps on tokio's clock; tests pass
/// one that records the durations and returns at once.
pub trait Waiter: Send + Sync {
    fn wait(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
}

/// Waits on tokio's timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioWaiter;

impl Waiter for TokioWaiter {
    fn wait(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(tokio::time::sleep(d))
    }
}
