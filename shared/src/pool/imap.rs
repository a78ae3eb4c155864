//! The parent's ways to take results as they come: [`as_completed`] and the
//! iterators of [`Pool::imap`] and [`Pool::imap_unordered`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use std::sync::Arc;

use super::{AsyncResult, Feed, Pool, TaskError};

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
/// The pool walks the results in their order of arrival, and the first one
/// that is `waiting`'s is usually at the front: `imap_unordered` over
/// 100 000 items stays linear.
fn take_first_finished<T>(
    pool: &Pool,
    waiting: &mut VecDeque<T>,
    id: impl Fn(&T) -> u64,
) -> Option<T> {
    if waiting.is_empty() {
        return None;
    }
    loop {
        let first = pool
            .state
            .borrow_mut()
            .first_arrived(|task| waiting.binary_search_by_key(&task, &id).ok());
        if let Some(at) = first {
            return waiting.remove(at);
        }
        if !matches!(pool.pump(None), Ok(true)) {
            // An error, or nothing left to wait for: let the caller see why
            // through the handle's `get`.
            return waiting.pop_front();
        }
    }
}

/// True if one of `queued` has finished, after collecting what the workers
/// have answered so far (without waiting).
fn any_finished<R>(pool: &Pool, queued: &VecDeque<(ChunkHandle<'_, R>, usize)>) -> bool {
    if queued.is_empty() {
        return false;
    }
    let _ = pool.pump(Some(Instant::now()));
    let mut ids: Vec<u64> = queued.iter().map(|(h, _)| h.id).collect();
    ids.sort_unstable();
    pool.state
        .borrow_mut()
        .first_arrived(|task| ids.binary_search(&task).ok())
        .is_some()
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

/// How many chunks an `imap` keeps queued per worker, ahead of the results
/// taken: enough that a worker that finishes finds the next chunk waiting,
/// few enough that a slow or endless input is read as the results go, as
/// CPython's task handler reads it.
const AHEAD_PER_WORKER: usize = 64;

/// How often `top_up` asks whether the wanted result is ready.
const READY_CHECK: Duration = Duration::from_millis(1);

/// The chunks of one `imap`, queued as the results are taken: none at the
/// call; then, each time a result is wanted, one more item is read and
/// queued at a time until that result is ready or `ahead` chunks wait. A
/// slow input thus yields its first result about one item's time after the
/// result was ready, as CPython's (whose task handler thread reads the input
/// meanwhile), and a fast one fills every worker before the caller waits.
struct Chunks<'pool, R> {
    feed: Option<Feed<'pool, R>>,
    queued: VecDeque<(ChunkHandle<'pool, R>, usize)>,
    /// A chunk that could not be queued: yielded after those before it.
    failed: Option<TaskError>,
    /// The input itself panicked while making an item: the panic is
    /// resumed once the results before it have been yielded, where CPython
    /// raises the input's exception.
    panicked: Option<Box<dyn std::any::Any + Send>>,
    ahead: usize,
}

impl<'pool, R> Chunks<'pool, R> {
    fn new(feed: Feed<'pool, R>, workers: usize) -> Self {
        Chunks {
            feed: Some(feed),
            queued: VecDeque::new(),
            failed: None,
            panicked: None,
            ahead: AHEAD_PER_WORKER * workers.max(1),
        }
    }

    /// Reads and queues chunks, one at a time, until `ready` says the
    /// result wanted is there, `ahead` chunks wait, or the items run out.
    fn top_up(&mut self, ready: impl Fn(&VecDeque<(ChunkHandle<'pool, R>, usize)>) -> bool) {
        // Asking whether the result is ready costs a poll(2): ask between
        // items only once a millisecond has passed since the last answer,
        // so that a fast input is read at full speed and a slow one
        // (an item a millisecond or more) is asked after every item.
        let mut asked = Instant::now();
        if ready(&self.queued) {
            return;
        }
        while self.queued.len() < self.ahead {
            if asked.elapsed() >= READY_CHECK {
                if ready(&self.queued) {
                    return;
                }
                asked = Instant::now();
            }
            let Some(feed) = self.feed.as_mut() else {
                return;
            };
            let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut *feed));
            let Ok(next) = next else {
                self.panicked = next.err();
                self.feed = None;
                return;
            };
            match next {
                Some(Ok(chunk)) => self.queued.push_back(chunk),
                Some(Err(e)) => {
                    self.failed = Some(TaskError::Pool(Arc::new(e)));
                    self.feed = None;
                }
                None => self.feed = None,
            }
        }
    }

    /// What comes when no chunk is left: the input's panic, resumed, or the
    /// chunk that could not be queued, or the end.
    fn end<T>(&mut self) -> Option<Result<T, TaskError>> {
        if let Some(payload) = self.panicked.take() {
            std::panic::resume_unwind(payload);
        }
        self.failed.take().map(Err)
    }
}

/// The iterator [`Pool::imap`] returns: results in the order of the items.
///
/// ```standalone_crate
/// // A program of its own: its one thread may fork the workers.
/// use multiproc::Pool;
///
/// fn square(n: u32) -> u32 {
///     n * n
/// }
///
/// let pool = Pool::new(2)?;
/// let squares: Vec<u32> = pool.imap(square, 1..=5, 1)?.collect::<Result<_, _>>()?;
/// assert_eq!(squares, [1, 4, 9, 16, 25]); // in the order given
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "an iterator does nothing unless consumed"]
pub struct IMap<'pool, R> {
    chunks: Chunks<'pool, R>,
    ready: VecDeque<Result<R, TaskError>>,
}

impl<'pool, R> IMap<'pool, R> {
    pub(super) fn new(feed: Feed<'pool, R>, workers: usize) -> Self {
        IMap {
            chunks: Chunks::new(feed, workers),
            ready: VecDeque::new(),
        }
    }
}

impl<R: DeserializeOwned> Iterator for IMap<'_, R> {
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ready.is_empty() {
            self.chunks
                .top_up(|queued| queued.front().is_some_and(|(h, _)| h.ready()));
            // The oldest chunk first, however long it takes: that is what
            // keeps the results in order.
            let Some((handle, len)) = self.chunks.queued.pop_front() else {
                return self.chunks.end();
            };
            self.ready = outcomes(handle.get(), len);
        }
        self.ready.pop_front()
    }
}

/// The iterator [`Pool::imap_unordered`] returns: results as they finish.
///
/// ```standalone_crate
/// // A program of its own: its one thread may fork the workers.
/// use multiproc::Pool;
///
/// fn square(n: u32) -> u32 {
///     n * n
/// }
///
/// let pool = Pool::new(2)?;
/// let mut squares: Vec<u32> = pool.imap_unordered(square, 1..=5, 1)?.collect::<Result<_, _>>()?;
/// squares.sort(); // they came in the order they finished
/// assert_eq!(squares, [1, 4, 9, 16, 25]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "an iterator does nothing unless consumed"]
pub struct IMapUnordered<'pool, R> {
    pool: &'pool Pool,
    chunks: Chunks<'pool, R>,
    ready: VecDeque<Result<R, TaskError>>,
}

impl<'pool, R> IMapUnordered<'pool, R> {
    pub(super) fn new(pool: &'pool Pool, feed: Feed<'pool, R>, workers: usize) -> Self {
        IMapUnordered {
            pool,
            chunks: Chunks::new(feed, workers),
            ready: VecDeque::new(),
        }
    }
}

impl<R: DeserializeOwned> Iterator for IMapUnordered<'_, R> {
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ready.is_empty() {
            let pool = self.pool;
            self.chunks.top_up(|queued| any_finished(pool, queued));
            // Whichever chunk finishes first.
            let Some((handle, len)) =
                take_first_finished(self.pool, &mut self.chunks.queued, |(h, _)| h.id)
            else {
                return self.chunks.end();
            };
            self.ready = outcomes(handle.get(), len);
        }
        self.ready.pop_front()
    }
}
