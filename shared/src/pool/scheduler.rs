//! The parent's side of the pool: its workers, the tasks each one holds, the
//! backlog, and the results that arrived. Runs only in the parent process;
//! what runs in a worker is in `worker.rs`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::TaskError;
use super::worker::{Reply, worker_loop};
use crate::error::Error;
use crate::process::Process;
use crate::process::fork::ParentOnly;
use crate::wire::{self, FrameReader};

#[derive(Debug)]
pub(super) struct Worker {
    pub(super) process: Process,
    /// The parent's end of the worker's socket; children forked later close
    /// their copies, so the worker sees end of stream when the parent closes it.
    pub(super) conn: ParentOnly<UnixStream>,
    /// Buffers the worker's answers: several can arrive in one read.
    pub(super) reader: FrameReader,
    /// Tasks sent to this worker and not answered yet, oldest first: the
    /// first is running, the others wait in its socket (see [`IN_FLIGHT`]).
    pub(super) running: VecDeque<(u64, Vec<u8>)>,
}

/// How many tasks a worker may hold at once. With one, every task costs a
/// full round trip during which the worker idles; with more, the next tasks
/// are already in the worker's socket when it answers, which roughly triples
/// the throughput of small tasks here. The price: a task may wait behind a
/// long one on its worker while another worker is free. Tasks go to idle
/// workers first, then a second one to each, and so on up to this many.
const IN_FLIGHT: usize = 4;

#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) workers: Vec<Worker>,
    /// Encoded tasks waiting for an idle worker, oldest first.
    pub(super) backlog: VecDeque<(u64, Vec<u8>)>,
    /// Results that arrived and are still wanted: the encoded `R`, or why not.
    pub(super) finished: HashMap<u64, (u64, Result<Vec<u8>, TaskError>)>,
    /// Counts arrivals, so that `as_completed` can tell which came first.
    pub(super) arrivals: u64,
    /// Tasks whose `AsyncResult` was dropped: their results are thrown away.
    pub(super) abandoned: HashSet<u64>,
    pub(super) next_id: u64,
    pub(super) closed: bool,
    /// Set once no worker is left to run tasks; says why.
    pub(super) gone: Option<String>,
}

impl State {
    /// Gives the oldest queued tasks to the workers: first one to each idle
    /// worker, then a second to each, up to [`IN_FLIGHT`] each.
    pub(super) fn dispatch(&mut self) {
        for depth in 1..=IN_FLIGHT {
            let mut i = 0;
            while i < self.workers.len() && !self.backlog.is_empty() {
                if self.workers[i].running.len() < depth {
                    let (id, task) = self.backlog.pop_front().expect("backlog is not empty");
                    let worker = &mut self.workers[i];
                    match wire::write_frame(&mut *worker.conn, &task) {
                        Ok(()) => worker.running.push_back((id, task)),
                        Err(_) => {
                            // The worker died: this task never reached it.
                            self.backlog.push_front((id, task));
                            self.worker_died(i);
                            continue;
                        }
                    }
                }
                i += 1;
            }
        }
        if self.workers.is_empty() {
            let why = self
                .gone
                .clone()
                .unwrap_or_else(|| "the pool has no workers".into());
            self.fail_backlog(&why);
        }
    }

    /// Reads worker `i`'s answers (one, and any others already buffered), or
    /// learns that it died.
    pub(super) fn collect(&mut self, i: usize) {
        loop {
            let worker = &mut self.workers[i];
            if worker.running.is_empty() {
                return;
            }
            match worker.reader.recv_value::<Reply>(&mut *worker.conn) {
                Ok(reply) => {
                    let (id, _) = worker.running.pop_front().expect("a task was running");
                    self.finish(id, reply.map_err(TaskError::Panicked));
                    if !self.workers[i].reader.has_frame() {
                        return;
                    }
                }
                Err(_) => {
                    // End of stream, a torn frame or garbage: the worker is gone.
                    self.worker_died(i);
                    return;
                }
            }
        }
    }

    /// Worker `i` is gone: its running task fails with `WorkerDied`; the
    /// tasks waiting behind it never started, so they go back to the front
    /// of the queue; the worker is replaced.
    fn worker_died(&mut self, i: usize) {
        let mut unanswered = std::mem::take(&mut self.workers[i].running);
        let (pid, exitcode) = self.replace_dead_worker(i);
        if let Some((id, _)) = unanswered.pop_front() {
            self.finish(id, Err(TaskError::WorkerDied { pid, exitcode }));
        }
        while let Some(task) = unanswered.pop_back() {
            self.backlog.push_front(task);
        }
    }

    /// Reaps dead worker `i` and forks a replacement in its slot (Python's Pool
    /// does the same). If the process can no longer fork (a thread was
    /// started), the slot is removed. Returns the dead worker's pid and
    /// exitcode.
    fn replace_dead_worker(&mut self, i: usize) -> (i32, i32) {
        let dead = &mut self.workers[i];
        let pid = dead.process.pid();
        // Its socket is closed, so it has exited or is exiting: this does not
        // block for long. Kill it in case it is wedged but closed the socket.
        let exitcode = match dead.process.join_timeout(Duration::from_secs(1)) {
            Ok(Some(code)) => code,
            _ => {
                let _ = dead.process.kill();
                dead.process.join().unwrap_or(-9)
            }
        };
        match fork_worker() {
            Ok(fresh) => self.workers[i] = fresh,
            Err(e) => {
                self.workers.remove(i);
                self.gone = Some(format!("a worker died and could not be replaced: {e}"));
            }
        }
        (pid, exitcode)
    }

    pub(super) fn finish(&mut self, id: u64, result: Result<Vec<u8>, TaskError>) {
        if !self.abandoned.remove(&id) {
            self.arrivals += 1;
            self.finished.insert(id, (self.arrivals, result));
        }
    }

    pub(super) fn fail_backlog(&mut self, why: &str) {
        while let Some((id, _)) = self.backlog.pop_front() {
            self.finish(id, Err(TaskError::PoolGone(why.to_string())));
        }
    }
}

/// Forks one worker with its own socket to the parent.
pub(super) fn fork_worker() -> Result<Worker, Error> {
    let (parent_end, child_end) = UnixStream::pair().map_err(Error::Io)?;
    // Marked before the fork, so this worker closes its copy of the parent's
    // end too.
    let conn = ParentOnly::new(parent_end);
    let process = Process::start_with_code(move || worker_loop(child_end))?;
    Ok(Worker {
        process,
        conn,
        reader: FrameReader::new(),
        running: VecDeque::new(),
    })
}
