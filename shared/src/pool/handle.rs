//! [`AsyncResult`]: the parent's handle to one task's result. Waiting on it
//! drives the pool (`Pool::pump`): there is no helper thread.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::imap::lost_task;
use super::{Pool, TaskError};
use crate::sys::deadline_after;
use crate::wire::WireError;

/// A handle to one task's result. Python: `multiprocessing.pool.AsyncResult`,
/// or `concurrent.futures.Future`.
///
/// ```standalone_crate
/// // A program of its own: its one thread may fork the workers.
/// use multiproc::Pool;
///
/// fn double(n: u32) -> u32 {
///     2 * n
/// }
///
/// let pool = Pool::new(1)?;
/// let result = pool.apply_async(double, 21)?;
/// assert_eq!(result.get()?, 42);
/// assert!(result.ready());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a task's result is only seen through its AsyncResult"]
#[doc(alias = "Future")]
#[doc(alias = "ApplyResult")]
pub struct AsyncResult<'pool, R> {
    pub(super) pool: &'pool Pool,
    pub(super) id: u64,
    pub(super) result_type: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> AsyncResult<'_, R> {
    /// Waits for the result. Python: `AsyncResult.get()`.
    ///
    /// # Errors
    /// [`TaskError::Panicked`] with the worker's panic message and location;
    /// [`TaskError::WorkerDied`] if the worker died running it;
    /// [`TaskError::PoolGone`] if the pool was terminated first;
    /// [`TaskError::Pool`] if waiting itself failed.
    #[doc(alias = "result")]
    pub fn get(&self) -> Result<R, TaskError> {
        self.wait_until(None)
    }

    /// Waits at most `timeout`; [`TaskError::Timeout`] after that. Python:
    /// `AsyncResult.get(timeout)`.
    ///
    /// # Errors
    /// [`TaskError::Timeout`] at the deadline, and those of
    /// [`AsyncResult::get`].
    pub fn get_timeout(&self, timeout: Duration) -> Result<R, TaskError> {
        self.wait_until(deadline_after(timeout))
    }

    /// True once the result (or its error) has arrived, without waiting.
    /// Python: `AsyncResult.ready()`.
    pub fn ready(&self) -> bool {
        // A poll with a deadline of now collects anything already answered.
        let _ = self.pool.pump(Some(Instant::now()));
        self.pool.state.borrow().result(self.id).is_some()
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<R, TaskError> {
        loop {
            if let Some(result) = self.pool.state.borrow().result(self.id) {
                let bytes = result.as_ref().map_err(Clone::clone)?;
                return postcard::from_bytes(bytes)
                    .map_err(|e| TaskError::Decode(Arc::new(WireError::Decode(e))));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(TaskError::Timeout);
            }
            let waited = self
                .pool
                .pump(deadline)
                .map_err(|e| TaskError::Pool(Arc::new(e)))?;
            if !waited && self.pool.state.borrow().result(self.id).is_none() {
                return Err(lost_task());
            }
        }
    }
}

impl<R> Drop for AsyncResult<'_, R> {
    fn drop(&mut self) {
        self.pool.state.borrow_mut().abandon(self.id);
    }
}

impl<R> std::fmt::Debug for AsyncResult<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncResult")
            .field("task", &self.id)
            .finish()
    }
}
