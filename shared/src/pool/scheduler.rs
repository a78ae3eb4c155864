//! The parent's side of the pool: the shared task pipe it fills, the
//! workers' sockets it reads, the tasks in flight and the results that
//! arrived. Runs only in the parent process; what runs in a worker is in
//! `worker.rs`.
//!
//! # How a task reaches a worker
//! Like CPython's Pool, there is one task queue that idle workers pull from,
//! so the next task goes to the first free worker and never waits behind a
//! long one: a pipe in packet mode (`O_DIRECT`, see pipe(7)) that every
//! worker reads. A small task is one packet, taken whole by one `read(2)`,
//! so no lock is needed and a worker killed while waiting takes nothing with
//! it. A task whose argument does not fit a packet is announced in the
//! pipe, and the worker that takes it asks for the argument on its own
//! socket. Results come back on each worker's socket.
//!
//! # Why nothing blocks
//! The parent writes the task pipe and the sockets without blocking, and
//! waits in one `poll(2)` for room to write and for answers to read (and
//! for a worker's death, through a pidfd). A worker only ever blocks on one
//! thing at a time, and the parent reads everything the workers write, so
//! a large argument and a large result can never wait on each other.
//!
//! # Which task a dead worker held
//! A worker writes the id of the task it took into its slot (`slots.rs`)
//! right after the `read(2)`. When it dies, its slot names the task, which
//! fails with `WorkerDied`; the tasks still in the pipe are safe. The one
//! gap, a worker killed between the `read` and the slot write, is closed by
//! counting: the pipe is first in, first out, and `FIONREAD` says how many
//! bytes are still in it, so the parent knows which tasks were taken.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl};

use super::TaskError;
use super::slots::Slots;
use super::worker::{FromWorker, TaskPacket, worker_loop};
use crate::error::Error;
use crate::process::Process;
use crate::process::fork::ParentOnly;
use crate::sys::{become_batch, fionread, pidfd_open, poll_fds, poll_readable, readable_now};
use crate::wire::{self, FrameReader, WireError};

/// The task pipe's size: up to 256 small tasks wait in it (each packet takes
/// a page), enough to keep every worker busy without a round trip.
const TASK_PIPE_SIZE: i32 = 1 << 20;

/// How long making a pool waits for its workers to say they run: past
/// it, the pool is returned anyway (a worker that starts late only takes
/// its first task late).
const START_WAIT: Duration = Duration::from_secs(5);

/// How long a task taken by a dead worker may stay unclaimed before it is
/// failed: a live worker that took it is at most a few instructions from
/// writing its slot.
const CLAIM_GRACE: Duration = Duration::from_millis(100);

/// One worker process, from the parent's side.
#[derive(Debug)]
pub(super) struct Worker {
    pub(super) process: Process,
    /// The parent's end of the worker's socket (non-blocking); children
    /// forked later close their copies.
    pub(super) conn: ParentOnly<UnixStream>,
    /// A descriptor that becomes readable when the worker exits, even if a
    /// process it forked still holds its socket (pidfd_open(2)).
    pidfd: Option<ParentOnly<OwnedFd>>,
    /// Buffers the worker's messages: several can arrive in one read.
    reader: FrameReader,
    /// Bytes for the worker's socket that did not fit yet (large arguments).
    outgoing: Vec<u8>,
    /// Whether the worker said it runs ([`FromWorker::Started`]).
    started: bool,
}

/// A task not yet in the pipe, its packet encoded once, when it was queued.
#[derive(Debug)]
struct Task {
    id: u64,
    /// What goes into the pipe: the whole task, or (for an argument too
    /// large for one packet) its announcement.
    packet: Vec<u8>,
    /// The argument, when the packet only announces it: sent on the socket
    /// of the worker that asks for it.
    large_arg: Option<Vec<u8>>,
}

/// A task that left the pipe while a worker that died was reading it, but
/// that no slot named: failed after [`CLAIM_GRACE`] unless a live worker
/// claims it.
#[derive(Debug)]
struct Suspect {
    id: u64,
    since: Instant,
    /// The dead worker, for the error.
    pid: i32,
    exitcode: i32,
}

/// The pool's parent-side state. Its fields are private: every pending
/// task is in exactly one of `backlog`, `in_pipe`, a worker's slot,
/// `suspects` or `finished`/`abandoned`, and only this file moves it.
#[derive(Debug)]
pub(super) struct State {
    workers: Vec<Worker>,
    slots: Slots,
    /// Whether the workers run as `SCHED_BATCH`: when there are more of them
    /// than CPUs this process may use (see `fork_worker`).
    batch: bool,
    /// The task pipe's write end (non-blocking), until `join` closes it.
    tasks_in: Option<ParentOnly<File>>,
    /// Its read end, kept to hand to new workers and to ask `FIONREAD`.
    tasks_out: ParentOnly<OwnedFd>,
    /// Tasks not yet written to the pipe, oldest first.
    backlog: VecDeque<Task>,
    /// Tasks in the pipe or taken, oldest first, with their packet sizes:
    /// the front ones are known to be taken once a later one answers.
    in_pipe: VecDeque<(u64, usize)>,
    /// Arguments too large for a packet, until their worker asks.
    large: HashMap<u64, Vec<u8>>,
    /// Tasks taken by a worker that died before its slot named them:
    /// failed after [`CLAIM_GRACE`] unless a live worker claims them.
    suspects: Vec<Suspect>,
    /// Every task submitted and not finished.
    pending: HashSet<u64>,
    /// Results that arrived and are still wanted: the encoded `R`, or why not.
    finished: HashMap<u64, Result<Vec<u8>, TaskError>>,
    /// Finished tasks in their order of arrival, for `as_completed`; ids
    /// whose result was taken are dropped from the front as it goes.
    arrived: VecDeque<u64>,
    /// Tasks whose `AsyncResult` was dropped: their results are thrown away.
    abandoned: HashSet<u64>,
    next_id: u64,
    closed: bool,
    /// Set once no worker is left to run tasks; says why.
    gone: Option<String>,
}

impl State {
    /// Makes the task pipe and the slots, and forks `processes` workers.
    pub(super) fn new(processes: usize) -> Result<State, Error> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_DIRECT)
            .map_err(|e| Error::Os("pipe2", e))?;
        // Only the parent's end is non-blocking: workers wait in `read`.
        // (F_SETFL replaces the flags: keep O_DIRECT, or packets merge.)
        let flags = fcntl(&write, FcntlArg::F_GETFL).map_err(|e| Error::Os("fcntl", e))?;
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        fcntl(&write, FcntlArg::F_SETFL(flags)).map_err(|e| Error::Os("fcntl", e))?;
        // A larger pipe holds more tasks; failing to grow it only means 16.
        let _ = fcntl(&write, FcntlArg::F_SETPIPE_SZ(TASK_PIPE_SIZE));
        let mut state = State {
            workers: Vec::with_capacity(processes),
            slots: Slots::new(processes).map_err(|e| Error::os("mmap", &e))?,
            tasks_in: Some(ParentOnly::new(File::from(write))),
            tasks_out: ParentOnly::new(read),
            backlog: VecDeque::new(),
            in_pipe: VecDeque::new(),
            large: HashMap::new(),
            suspects: Vec::new(),
            pending: HashSet::new(),
            finished: HashMap::new(),
            arrived: VecDeque::new(),
            abandoned: HashSet::new(),
            next_id: 1,
            closed: false,
            gone: None,
            batch: processes > std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        for i in 0..processes {
            let worker = state.fork_worker(i)?;
            state.workers.push(worker);
        }
        state.wait_until_started()?;
        Ok(state)
    }

    /// Waits until every worker says it runs, or [`START_WAIT`] has passed.
    /// Without it, the first tasks go to whichever workers the kernel has
    /// started by then: on a busy machine one worker can take every task of
    /// a short run before the last one forked has run at all.
    fn wait_until_started(&mut self) -> Result<(), Error> {
        let deadline = Instant::now() + START_WAIT;
        loop {
            let waiting: Vec<usize> = (0..self.workers.len())
                .filter(|&i| !self.workers[i].started)
                .collect();
            if waiting.is_empty() || Instant::now() >= deadline {
                return Ok(());
            }
            let fds: Vec<RawFd> = waiting
                .iter()
                .map(|&i| self.workers[i].conn.as_raw_fd())
                .collect();
            let readable = poll_readable(&fds, Some(deadline))?;
            for (&i, readable) in waiting.iter().zip(readable) {
                // A worker that died was replaced (or removed) in `collect`:
                // the loop then waits for its replacement.
                if readable && i < self.workers.len() {
                    self.collect(i);
                }
            }
        }
    }

    /// Forks the worker for slot `i`, with its own socket to the parent and
    /// its own copy of the task pipe's read end.
    fn fork_worker(&self, i: usize) -> Result<Worker, Error> {
        let (parent_end, child_end) =
            UnixStream::pair().map_err(|e| Error::os("socketpair", &e))?;
        parent_end
            .set_nonblocking(true)
            .map_err(|e| Error::os("fcntl", &e))?;
        // Marked before the fork, so this worker closes its copy of the parent's
        // end too.
        let conn = ParentOnly::new(parent_end);
        let tasks = File::from(
            self.tasks_out
                .try_clone()
                .map_err(|e| Error::os("dup", &e))?,
        );
        self.slots.get(i).store(0, Ordering::SeqCst);
        let slots = &self.slots;
        let batch = self.batch;
        let parent = nix::unistd::getpid();
        let process = Process::start_with_code(move || {
            // A pool's workers are daemons, as in Python: they die with the
            // pool's process, however it dies (and leave if it is gone).
            let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
            // With more workers than CPUs, a worker woken by a task must not
            // preempt the parent that is handing out the next ones: each
            // write to the task pipe would otherwise switch the parent out
            // for one worker (about one context switch per task, and a third
            // of the throughput). With as many CPUs as workers it would not
            // preempt the parent anyway, and a batch worker loses its quick
            // start against other programs' busy processes: a loaded run of
            // lesson 03 then saw 20 chunks take 0.6 s. Failing to ask changes
            // only the speed.
            if batch {
                let _ = become_batch();
            }
            if nix::unistd::getppid() != parent {
                return 0;
            }
            worker_loop(tasks, child_end, slots.get(i))
        })?;
        // The closure, and with it the parent's copies of `tasks` and
        // `child_end`, is gone: only the worker holds them now.
        let pidfd = pidfd_open(process.pid()).map(ParentOnly::new);
        Ok(Worker {
            process,
            conn,
            pidfd,
            reader: FrameReader::new(),
            outgoing: Vec::new(),
            started: false,
        })
    }

    /// True while some task is submitted and not finished.
    pub(super) fn busy(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The workers' pids, in the order of their slots.
    pub(super) fn worker_pids(&self) -> Vec<i32> {
        self.workers.iter().map(|w| w.process.pid()).collect()
    }

    /// True once [`State::close`] was called: no new tasks.
    pub(super) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Refuses new tasks from now on; those queued still run.
    pub(super) fn close(&mut self) {
        self.closed = true;
    }

    /// Queues a task (`call` runs `func` on the encoded `arg` in a worker)
    /// and writes it to the pipe if there is room. Its packet is encoded
    /// here, once. Returns the task's id.
    pub(super) fn enqueue(&mut self, call: usize, func: usize, arg: Vec<u8>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let inline = TaskPacket {
            id,
            call,
            func,
            arg: Some(arg),
        };
        let packet = postcard::to_allocvec(&inline).expect("a task packet encodes");
        let task = if packet.len() <= libc::PIPE_BUF {
            Task {
                id,
                packet,
                large_arg: None,
            }
        } else {
            let announce = TaskPacket {
                arg: None,
                ..inline
            };
            Task {
                id,
                packet: postcard::to_allocvec(&announce).expect("a task packet encodes"),
                large_arg: inline.arg,
            }
        };
        self.pending.insert(id);
        self.backlog.push_back(task);
        self.write_what_fits();
        id
    }

    /// The result of task `id` if it has arrived: the encoded `R`, or why
    /// there is none.
    pub(super) fn result(&self, id: u64) -> Option<&Result<Vec<u8>, TaskError>> {
        self.finished.get(&id)
    }

    /// Forgets task `id`, whose handle is gone: its result, if it arrived,
    /// is dropped now, and otherwise when it comes.
    pub(super) fn abandon(&mut self, id: u64) {
        if self.finished.remove(&id).is_none() {
            self.abandoned.insert(id);
        }
    }

    /// Of the finished tasks, in their order of arrival, the first for
    /// which `wanted` gives `Some`, and what it gave.
    pub(super) fn first_arrived<T>(
        &mut self,
        mut wanted: impl FnMut(u64) -> Option<T>,
    ) -> Option<T> {
        // Results already taken leave the arrival list here, lazily: the
        // first one wanted is then usually at the front.
        while let Some(task) = self.arrived.front() {
            if self.finished.contains_key(task) {
                break;
            }
            self.arrived.pop_front();
        }
        self.arrived
            .iter()
            .filter(|task| self.finished.contains_key(task))
            .find_map(|&task| wanted(task))
    }

    /// Writes what it can without blocking: tasks into the pipe, arguments
    /// into the sockets of the workers that asked for them.
    pub(super) fn write_what_fits(&mut self) {
        if let Some(tasks_in) = self.tasks_in.as_mut() {
            while let Some(task) = self.backlog.front() {
                match tasks_in.write(&task.packet) {
                    Ok(_) => {
                        let task = self.backlog.pop_front().expect("front exists");
                        if let Some(arg) = task.large_arg {
                            self.large.insert(task.id, arg);
                        }
                        self.in_pipe.push_back((task.id, task.packet.len()));
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // Full (WouldBlock), or no worker left to read it.
                    Err(_) => break,
                }
            }
        }
        for worker in &mut self.workers {
            flush_outgoing(worker);
        }
        if self.workers.is_empty() {
            let why = self
                .gone
                .clone()
                .unwrap_or_else(|| "the pool has no workers".into());
            self.fail_all(&why);
        }
    }

    /// Waits until something can be written or read, or until `deadline`,
    /// and handles it. Returns false if there was nothing to wait for.
    pub(super) fn wait(&mut self, deadline: Option<Instant>) -> Result<bool, Error> {
        self.write_what_fits();
        self.fail_unclaimed();
        if !self.busy() {
            return Ok(false);
        }
        let buffered = self.workers.iter().any(|w| w.reader.has_frame());
        let mut fds: Vec<(RawFd, libc::c_short)> = Vec::new();
        if let Some(tasks_in) = &self.tasks_in
            && !self.backlog.is_empty()
        {
            fds.push((tasks_in.as_raw_fd(), libc::POLLOUT));
        }
        // Where each worker's socket and pidfd are in `fds`.
        let mut places: Vec<(usize, Option<usize>)> = Vec::with_capacity(self.workers.len());
        for worker in &self.workers {
            let events = if worker.outgoing.is_empty() {
                libc::POLLIN
            } else {
                libc::POLLIN | libc::POLLOUT
            };
            let conn = fds.len();
            fds.push((worker.conn.as_raw_fd(), events));
            let pidfd = worker.pidfd.as_ref().map(|pidfd| {
                fds.push((pidfd.as_raw_fd(), libc::POLLIN));
                fds.len() - 1
            });
            places.push((conn, pidfd));
        }
        let wake = self.suspects.iter().map(|s| s.since + CLAIM_GRACE).min();
        let until = match (deadline, wake) {
            (Some(d), Some(w)) => Some(d.min(w)),
            (d, w) => d.or(w),
        };
        let until = if buffered {
            Some(Instant::now())
        } else {
            until
        };
        let ready = poll_fds(&fds, until)?;
        // Read the sockets that have something, and look at the workers
        // whose pidfd says they exited; the others are not touched, so an
        // idle worker costs no system call. Highest index first: a dead
        // worker is replaced in place, so the other indices stay valid.
        for i in (0..self.workers.len()).rev() {
            let (conn, pidfd) = places[i];
            if ready[conn] || pidfd.is_some_and(|p| ready[p]) || self.workers[i].reader.has_frame()
            {
                self.collect(i);
            }
        }
        self.write_what_fits();
        self.fail_unclaimed();
        Ok(true)
    }

    /// Reads what worker `i` sent and handles each whole message; if it
    /// hung up or exited, handles its death.
    fn collect(&mut self, i: usize) {
        let mut died = false;
        loop {
            let worker = &mut self.workers[i];
            match worker.reader.take_frame() {
                Ok(Some(frame)) => {
                    match postcard::from_bytes::<FromWorker>(&frame) {
                        Ok(message) => self.handle(i, message),
                        Err(_) => died = true,
                    }
                    continue;
                }
                Ok(None) => {}
                Err(_) => died = true,
            }
            if died {
                break;
            }
            let worker = &mut self.workers[i];
            match worker.reader.fill_available(&mut *worker.conn) {
                Ok(0) => died = true,
                Ok(_) => continue,
                Err(WireError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => died = true,
            }
            break;
        }
        let exited = self.workers[i]
            .pidfd
            .as_ref()
            .is_some_and(|fd| readable_now(fd.as_raw_fd()));
        if died || exited {
            self.worker_died(i);
        }
    }

    fn handle(&mut self, i: usize, message: FromWorker) {
        match message {
            FromWorker::Want(id) => {
                if let Some(arg) = self.large.remove(&id) {
                    let worker = &mut self.workers[i];
                    match wire::frame_bytes(&arg) {
                        Ok(frame) => worker.outgoing.extend_from_slice(&frame),
                        Err(e) => {
                            self.finish(id, Err(TaskError::Pool(std::sync::Arc::new(e.into()))))
                        }
                    }
                    flush_outgoing(&mut self.workers[i]);
                }
            }
            FromWorker::Started => self.workers[i].started = true,
            FromWorker::Done(id, reply) => {
                self.taken_up_to(id);
                self.finish(id, reply.map_err(TaskError::Panicked));
            }
        }
    }

    /// Task `id` was taken from the pipe, so every task written before it
    /// was taken too (the pipe is first in, first out).
    fn taken_up_to(&mut self, id: u64) {
        if self.in_pipe.iter().any(|&(t, _)| t == id) {
            while let Some((t, _)) = self.in_pipe.pop_front() {
                if t == id {
                    break;
                }
            }
        }
    }

    /// Worker `i` is gone: the task in its slot fails with `WorkerDied`, a
    /// task it took without naming it is failed after a grace, and the
    /// worker is replaced. Tasks still in the pipe are untouched.
    fn worker_died(&mut self, i: usize) {
        let (pid, exitcode) = self.reap(i);
        let held = self.slots.get(i).swap(0, Ordering::SeqCst);
        if held != 0 && self.pending.contains(&held) {
            self.taken_up_to(held);
            self.finish(held, Err(TaskError::WorkerDied { pid, exitcode }));
        }
        // Which tasks have left the pipe: all but the last `FIONREAD` bytes.
        let mut left = fionread(self.tasks_out.as_raw_fd());
        let mut still_in = 0;
        for &(_, len) in self.in_pipe.iter().rev() {
            if left < len {
                break;
            }
            left -= len;
            still_in += 1;
        }
        let taken = self.in_pipe.len() - still_in;
        let now = Instant::now();
        for (id, _) in self.in_pipe.drain(..taken) {
            self.suspects.push(Suspect {
                id,
                since: now,
                pid,
                exitcode,
            });
        }
        match self.fork_worker(i) {
            Ok(fresh) => self.workers[i] = fresh,
            Err(e) => {
                self.workers.remove(i);
                self.gone = Some(format!("a worker died and could not be replaced: {e}"));
            }
        }
    }

    /// Fails the suspects that no live worker claimed within the grace.
    fn fail_unclaimed(&mut self) {
        let now = Instant::now();
        let claimed: HashSet<u64> = (0..self.workers.len())
            .map(|i| self.slots.get(i).load(Ordering::SeqCst))
            .collect();
        let suspects = std::mem::take(&mut self.suspects);
        for suspect in suspects {
            if !self.pending.contains(&suspect.id) || claimed.contains(&suspect.id) {
                continue; // Answered, or running in a live worker.
            }
            if now >= suspect.since + CLAIM_GRACE {
                let Suspect {
                    id, pid, exitcode, ..
                } = suspect;
                self.finish(id, Err(TaskError::WorkerDied { pid, exitcode }));
            } else {
                self.suspects.push(suspect);
            }
        }
    }

    /// Reaps worker `i` (killing it if it is wedged); its pid and exitcode.
    fn reap(&mut self, i: usize) -> (i32, i32) {
        let dead = &mut self.workers[i];
        let pid = dead.process.pid();
        let exitcode = match dead.process.join_timeout(Duration::from_secs(1)) {
            Ok(Some(code)) => code,
            _ => {
                let _ = dead.process.kill();
                dead.process.join().unwrap_or(-9)
            }
        };
        (pid, exitcode)
    }

    /// Closes the task pipe, so that each worker exits once the pipe is
    /// empty, and reaps them (killing any still there after 5 s). Called
    /// by `Pool::join` once every task has finished.
    pub(super) fn join_workers(&mut self) -> Result<(), Error> {
        // End of stream on the task pipe is the workers' signal to exit.
        self.tasks_in = None;
        for worker in &mut self.workers {
            if worker
                .process
                .join_timeout(Duration::from_secs(5))?
                .is_none()
            {
                worker.process.kill()?;
                worker.process.join()?;
            }
        }
        self.workers.clear();
        self.gone = Some("the pool was joined".into());
        Ok(())
    }

    /// Stops every worker: `SIGTERM`, then `SIGKILL` for any still there
    /// after `grace`; reaps them all, and fails every unfinished task.
    pub(super) fn stop_workers(&mut self, grace: Duration, why: &str) {
        self.tasks_in = None;
        let mut workers = std::mem::take(&mut self.workers);
        for worker in &workers {
            let _ = worker.process.terminate();
        }
        let deadline = Instant::now() + grace;
        for (i, worker) in workers.iter_mut().enumerate() {
            let left = deadline.saturating_duration_since(Instant::now());
            if !matches!(worker.process.join_timeout(left), Ok(Some(_))) {
                let _ = worker.process.kill();
                let _ = worker.process.join();
            }
            // A task still in the worker's slot was running when it was
            // stopped: it did run, and did not finish.
            let held = self.slots.get(i).swap(0, Ordering::SeqCst);
            if held != 0 {
                let pid = worker.process.pid();
                self.finish(held, Err(TaskError::Terminated { pid }));
            }
        }
        self.fail_all(why);
    }

    fn finish(&mut self, id: u64, result: Result<Vec<u8>, TaskError>) {
        if !self.pending.remove(&id) {
            return; // Finished already (a late answer after a failure).
        }
        if !self.abandoned.remove(&id) {
            self.arrived.push_back(id);
            self.finished.insert(id, result);
        }
    }

    /// Fails every unfinished task with `PoolGone(why)`.
    fn fail_all(&mut self, why: &str) {
        self.backlog.clear();
        self.in_pipe.clear();
        self.large.clear();
        self.suspects.clear();
        let pending: Vec<u64> = self.pending.iter().copied().collect();
        for id in pending {
            self.finish(id, Err(TaskError::PoolGone(why.to_string())));
        }
    }
}

/// Writes as much of the worker's pending bytes as its socket takes now.
fn flush_outgoing(worker: &mut Worker) {
    while !worker.outgoing.is_empty() {
        match worker.conn.write(&worker.outgoing) {
            Ok(n) => {
                worker.outgoing.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Full: later. Broken: the worker is dead, and `collect` sees it.
            Err(_) => return,
        }
    }
}
