//! The parent's ways to take results as they come: [`as_completed`] and the
//! iterators of [`Pool::imap`] and [`Pool::imap_unordered`].

use std::collections::VecDeque;

use serde::de::DeserializeOwned;

use super::{AsyncResult, Pool, TaskError};

/// Yields the handles as their tasks finish, first finished first. Python:
/// `concurrent.futures.as_completed(futures)`.
pub fn as_completed<'pool, R: DeserializeOwned>(
    mut handles: Vec<AsyncResult<'pool, R>>,
) -> impl Iterator<Item = AsyncResult<'pool, R>> {
    handles.sort_by_key(|h| h.id);
    let mut waiting: VecDeque<_> = handles.into();
    std::iter::from_fn(move || {
        let pool = waiting.front()?.pool;
        take_first_finished(pool, &mut waiting, |h| h.id)
    })
}

/// Removes and returns the one of `waiting` (sorted by task id) whose task
/// finished first, waiting for one if none has. `id` tells each one's task.
/// It looks up the few results that have arrived and not been taken, not
/// every handle that is still waiting: `imap_unordered` over 100 000 items
/// stays linear.
fn take_first_finished<T>(
    pool: &Pool,
    waiting: &mut VecDeque<T>,
    id: impl Fn(&T) -> u64,
) -> Option<T> {
    if waiting.is_empty() {
        return None;
    }
    loop {
        let first = {
            let state = pool.state.borrow();
            state
                .finished
                .iter()
                .filter_map(|(task, (arrival, _))| {
                    let at = waiting.binary_search_by_key(task, &id).ok()?;
                    Some((*arrival, at))
                })
                .min()
        };
        if let Some((_, at)) = first {
            return waiting.remove(at);
        }
        if !matches!(pool.pump(None), Ok(true)) {
            // An error, or nothing left to wait for: let the caller see why
            // through the handle's `get`.
            return waiting.pop_front();
        }
    }
}

/// A task that is neither queued, running nor finished: it cannot happen
/// while the handle lives, but a wait must never spin on it.
pub(super) fn lost_task() -> TaskError {
    TaskError::PoolGone("the task is no longer known to its pool".into())
}

/// One chunk of an `imap`: a task whose result is one outcome per item.
pub(super) type ChunkHandle<'pool, R> = AsyncResult<'pool, Vec<Result<R, String>>>;

/// Spreads a chunk's outcome over its items: each item's own result, or the
/// chunk's error (a dead worker, a terminated pool) for every one of them.
fn outcomes<R>(
    chunk: Result<Vec<Result<R, String>>, TaskError>,
    len: usize,
) -> VecDeque<Result<R, TaskError>> {
    match chunk {
        Ok(items) => items
            .into_iter()
            .map(|r| r.map_err(TaskError::Panicked))
            .collect(),
        Err(e) => (0..len).map(|_| Err(e.clone())).collect(),
    }
}

/// The iterator [`Pool::imap`] returns: results in the order of the items.
#[must_use = "an iterator does nothing unless consumed"]
pub struct IMap<'pool, R> {
    pub(super) chunks: VecDeque<(ChunkHandle<'pool, R>, usize)>,
    pub(super) ready: VecDeque<Result<R, TaskError>>,
}

impl<R: DeserializeOwned> Iterator for IMap<'_, R> {
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ready.is_empty() {
            // The oldest chunk first, however long it takes: that is what
            // keeps the results in order.
            let (handle, len) = self.chunks.pop_front()?;
            self.ready = outcomes(handle.get(), len);
        }
        self.ready.pop_front()
    }
}

/// The iterator [`Pool::imap_unordered`] returns: results as they finish.
#[must_use = "an iterator does nothing unless consumed"]
pub struct IMapUnordered<'pool, R> {
    pub(super) pool: &'pool Pool,
    pub(super) chunks: VecDeque<(ChunkHandle<'pool, R>, usize)>,
    pub(super) ready: VecDeque<Result<R, TaskError>>,
}

impl<R: DeserializeOwned> Iterator for IMapUnordered<'_, R> {
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ready.is_empty() {
            // Whichever chunk finishes first.
            let (handle, len) = take_first_finished(self.pool, &mut self.chunks, |(h, _)| h.id)?;
            self.ready = outcomes(handle.get(), len);
        }
        self.ready.pop_front()
    }
}
