//! Lesson 01: threads vs processes.
//!
//! The tutorial this course ports opens with one experiment: recursive
//! `fib(30)` .. `fib(34)` on a `ThreadPoolExecutor(2)` and on a
//! `ProcessPoolExecutor(2)`. In CPython the threads lose (2.72 s against
//! 1.78 s in the tutorial), because the GIL lets one thread run Python code at
//! a time. Rust has no GIL: here both pools run the work in parallel, and this
//! lesson measures by how much. Then it puts numbers on the tutorial's other
//! claims: processes cost more to create, and a switch between processes costs
//! more than a switch between threads. Last, waiting (IO) overlaps on threads.
//!
//! Every fork happens while the process has one thread: each section joins
//! its threads before the next one forks.

use std::fs::File;
use std::io::{Read, Write};
use std::ops::RangeInclusive;
use std::os::fd::OwnedFd;
use std::sync::Barrier;
use std::thread;
use std::time::Duration;

mod machine;
mod speedup;

use course::schedule::Schedule as Timeline;
use course::{ratio, section, start_lesson, timed, title};
use machine::{CpuUse, parallel_capacity, usable_cpus};
use multiproc::{AsyncResult, Pool, Process, as_completed};
use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::{Pid, pipe2};
use serde::{Deserialize, Serialize};
use speedup::{Machine, Schedule, what_the_speedups_say};

/// The tutorial's tasks: fib(30) to fib(34).
const TASKS: RangeInclusive<u32> = 30..=34;
/// Two workers in each pool, as in the tutorial, on any machine.
const WORKERS: usize = 2;
/// Sections 2 and 3 submit a wait of 300 ms first, the five fib tasks, then
/// a short fib(20). One worker takes the wait while the other runs every fib
/// task, so the first task submitted ends last, long after the others: a
/// loop that reads results in submission order prints it first, and the
/// check below catches that whatever the machine's speed.
const FIRST_AND_LONG: Duration = Duration::from_millis(300);
const LAST_AND_SHORT: u32 = 20;
/// Two results that come out of order by less than this pass as in order
/// (results can reach the loop a moment apart from when their tasks ended).
/// The wait ends at least 150 ms after any fib task unless the fib tasks
/// alone take 150 ms on one worker.
const ORDER_SLACK: Duration = Duration::from_millis(100);
/// Section 4 times each way of running the five fib tasks this many times,
/// taking turns, and keeps the fastest run of each: a run slowed by the
/// machine (a page fault storm, another program) does not become a figure.
const SPEEDUP_RUNS: usize = 3;
/// How many threads, then processes, section 5 starts and joins.
const START_COUNT: usize = 50;
/// How many round trips section 6 makes.
const ROUND_TRIPS: u32 = 2_000;
/// Section 7: this many threads each wait this long.
const SLEEPERS: u32 = 10;
const NAP: Duration = Duration::from_millis(100);

fn main() {
    start_lesson(env!("CARGO_PKG_NAME"));
    title("Lesson 01: threads vs processes");
    let parent = std::process::id();
    println!("This process: pid={parent}");

    let serial = serial_baseline();
    fib_on_thread_pool(parent);
    fib_on_process_pool(parent);
    compare_speedups(&serial);
    let fork_and_reap = creation_cost();
    switch_cost(fork_and_reap);
    io_waits_overlap();
}

/// The task, as the tutorial wrote it: exponential on purpose, pure CPU.
fn fib(n: u32) -> u64 {
    if n <= 2 { 1 } else { fib(n - 1) + fib(n - 2) }
}

/// A task for the pools: a fib, or (sections 2 and 3) a wait.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum Task {
    Fib(u32),
    Wait(Duration),
}

/// What one task reports: its result, where it ran, and how long it took.
#[derive(Debug, Serialize, Deserialize)]
struct Done {
    task: Task,
    /// fib(n), for a fib task.
    value: u64,
    pid: u32,
    took: Duration,
    /// When it finished, on the machine-wide monotonic clock, so that times
    /// from different processes compare.
    finished_at: Duration,
}

impl Done {
    /// `fib(30) = 832040`, or `wait 300ms`.
    fn what(&self) -> String {
        match self.task {
            Task::Fib(n) => format!("fib({n}) = {}", self.value),
            Task::Wait(time) => format!("wait {time:?}"),
        }
    }

    /// Adds this task to `schedule`, in the row of the worker that ran it.
    fn add_to(&self, schedule: &mut Timeline, worker: String) {
        let label = match self.task {
            Task::Fib(n) => format!("fib({n})"),
            Task::Wait(time) => format!("wait {time:?}"),
        };
        let end = self.finished_at.as_nanos() as u64;
        schedule.add(worker, label, end - self.took.as_nanos() as u64, end);
    }
}

/// One task, the same code on every worker: a thread, a process, or none.
fn run_task(task: Task) -> Done {
    let (value, took) = timed(|| match task {
        // `black_box` keeps the optimiser from computing fib(34) at compile
        // time.
        Task::Fib(n) => fib(std::hint::black_box(n)),
        Task::Wait(time) => {
            thread::sleep(time);
            0
        }
    });
    Done {
        task,
        value,
        pid: std::process::id(),
        took,
        finished_at: monotonic_now(),
    }
}

/// What sections 2 and 3 submit: the long wait first, the five fib tasks,
/// then the short fib.
fn tasks_for_the_pools() -> Vec<Task> {
    std::iter::once(Task::Wait(FIRST_AND_LONG))
        .chain(TASKS.map(Task::Fib))
        .chain([Task::Fib(LAST_AND_SHORT)])
        .collect()
}

// ---------------------------------------------------------------------------
/// Section 1: the same five tasks one after another, on this thread. Section
/// 4's bound is computed from these times.
fn serial_baseline() -> Vec<Done> {
    section(
        "The baseline: fib(30..=34) one after another",
        "for n in range(30, 35): fib(n)",
    );
    let (done, took): (Vec<Done>, _) = timed(|| TASKS.map(Task::Fib).map(run_task).collect());
    for task in &done {
        println!("{}  took {:.1?}", task.what(), task.took);
    }
    println!("serial: {took:.1?}");
    done
}

// ---------------------------------------------------------------------------
/// Section 2: a pool of two threads, its results read as they complete.
fn fib_on_thread_pool(parent: u32) {
    section(
        "A 300ms wait, fib(30..=34) and a short fib(20) on a pool of 2 threads, as they complete",
        "ThreadPoolExecutor(2) + submit + as_completed",
    );
    let mut order = Vec::new();
    let mut threads_used = [false; WORKERS];
    let mut schedule = Timeline::new("a pool of 2 threads");
    thread_pool_as_completed(&tasks_for_the_pools(), |index, task| {
        println!("{}  pid={}  thread {index}", task.what(), task.pid);
        order.push(task.finished_at);
        threads_used[index] = true;
        task.add_to(&mut schedule, format!("thread {index}"));
    });
    print_completion_order(&order);
    schedule.print();
    println!(
        "both threads took tasks: {}",
        threads_used.iter().all(|&used| used)
    );
    println!("Every task ran in this process (pid={parent}): threads share one pid.");
}

/// A pool of `WORKERS` threads running `tasks`: the tasks wait in a shared
/// queue, each thread takes the next one when it is free and sends its
/// result back on a channel as soon as it is done, and `each` sees every
/// result as it arrives, with the index of the thread that ran it.
fn thread_pool_as_completed(tasks: &[Task], mut each: impl FnMut(usize, Done)) {
    // The executor's work queue: one channel that every thread takes the next
    // task from (crossbeam-channel, like Python's queue.Queue, has any number
    // of receivers; std's mpsc has one). Results come back on another.
    let (queue, queued) = crossbeam_channel::unbounded();
    for &task in tasks {
        queue.send(task).expect("the queue is open");
    }
    drop(queue); // No more tasks: each thread stops once the queue is empty.
    let (results, completed) = crossbeam_channel::unbounded();
    // Each thread waits here until all of them run, as `Pool::new` waits for
    // its processes: on a busy machine the first thread could otherwise
    // take every task before the second had started.
    let all_started = Barrier::new(WORKERS);
    thread::scope(|scope| {
        for index in 0..WORKERS {
            let (queued, results) = (queued.clone(), results.clone());
            let all_started = &all_started;
            scope.spawn(move || {
                all_started.wait();
                for task in queued {
                    results.send((index, run_task(task))).unwrap();
                }
            });
        }
        drop(results);
        // `as_completed`: the channel yields results as threads send them.
        for (index, task) in completed {
            each(index, task);
        }
    });
}

// ---------------------------------------------------------------------------
/// Section 3: a pool of two worker processes, forked now (this process has one
/// thread again: section 2's threads were joined when its scope ended).
fn fib_on_process_pool(parent: u32) {
    section(
        "The same tasks on a pool of 2 processes, as they complete",
        "ProcessPoolExecutor(2) + submit + as_completed",
    );
    let pool = Pool::new(WORKERS).expect("forking the pool's workers");
    let workers: Vec<u32> = pool.worker_pids().iter().map(|&p| p as u32).collect();
    println!("The pool forked {} worker processes.", workers.len());
    let (mut ran_in, mut order) = (Vec::new(), Vec::new());
    let mut schedule = Timeline::new("a pool of 2 processes");
    let handles: Vec<AsyncResult<Done>> = tasks_for_the_pools()
        .into_iter()
        .map(|task| pool.apply_async(run_task, task).expect("queueing a task"))
        .collect();
    for handle in as_completed(handles) {
        let task = handle.get().expect("a task failed");
        println!("{}  pid={}", task.what(), task.pid);
        ran_in.push(task.pid);
        order.push(task.finished_at);
        task.add_to(&mut schedule, format!("pid={}", task.pid));
    }
    print_completion_order(&order);
    schedule.print();
    ran_in.sort();
    ran_in.dedup();
    println!("Distinct pids that ran tasks: {}", ran_in.len());
    println!(
        "All of them pool workers: {}",
        ran_in.iter().all(|pid| workers.contains(pid))
    );
    println!(
        "One of them this process (pid={parent}): {}",
        ran_in.contains(&parent)
    );
    // Python: leaving `with ProcessPoolExecutor(...)` waits for the workers.
    pool.close();
    pool.join().expect("joining the pool");
}

/// Runs `tasks` on a fresh pool of `WORKERS` processes and reads every
/// result as it completes; returns when the pool is joined.
fn process_pool_as_completed(tasks: &[Task]) {
    let pool = Pool::new(WORKERS).expect("forking the pool's workers");
    let handles: Vec<AsyncResult<Done>> = tasks
        .iter()
        .map(|&task| pool.apply_async(run_task, task).expect("queueing a task"))
        .collect();
    for handle in as_completed(handles) {
        handle.get().expect("a task failed");
    }
    pool.close();
    pool.join().expect("joining the pool");
}

/// Says whether the results came in the order the tasks finished, read from
/// the times the tasks themselves took when they ended: an `as_completed`
/// loop passes; a loop over the tasks in submission order fails, since the
/// wait, submitted first, ends at least 150ms after every fib task.
fn print_completion_order(finished: &[Duration]) {
    let in_order = finished
        .windows(2)
        .all(|pair| pair[1] + ORDER_SLACK >= pair[0]);
    println!("results in the order the tasks finished: {in_order}");
}

/// Now, on CLOCK_MONOTONIC: the same clock in every process of the machine.
fn monotonic_now() -> Duration {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("clock");
    Duration::from(now)
}

// ---------------------------------------------------------------------------
/// Section 4: the five fib tasks run serially, on the thread pool and on the
/// process pool, taking turns, each way three times; what the fastest runs
/// mean, against the best speedup two workers could reach on these tasks.
fn compare_speedups(serial: &[Done]) {
    section(
        &format!("Speedups, and the best {WORKERS} workers can do here"),
        "(the tutorial: threads 2.72 s, processes 1.78 s in CPython)",
    );
    let fibs: Vec<Task> = TASKS.map(Task::Fib).collect();
    let before = CpuUse::now();
    let mut fastest = [Duration::MAX; 3];
    for _ in 0..SPEEDUP_RUNS {
        let runs = [
            timed(|| {
                for &task in &fibs {
                    run_task(task);
                }
            })
            .1,
            timed(|| thread_pool_as_completed(&fibs, |_, _| {})).1,
            timed(|| process_pool_as_completed(&fibs)).1,
        ];
        for (best, run) in fastest.iter_mut().zip(runs) {
            *best = (*best).min(run);
        }
    }
    let others = before.share_used_by_others();
    let [serial_took, threads_took, processes_took] = fastest;
    println!("Fastest of {SPEEDUP_RUNS} runs each, taking turns:");
    println!(
        "  serial {serial_took:.1?}, thread pool {threads_took:.1?}, process pool {processes_took:.1?}"
    );
    let times: Vec<Duration> = serial.iter().map(|t| t.took).collect();
    let total: Duration = times.iter().sum();
    let biggest = times.last().copied().unwrap_or_default();
    let schedule = Schedule::in_order(&times, WORKERS);
    let bound = ratio(total, schedule.makespan);
    println!(
        "fib(34) alone is {:.0}% of the serial work (section 1).",
        100.0 * ratio(biggest, total)
    );
    println!("Best speedup for these tasks taken in order by {WORKERS} workers: {bound:.2}x");
    let lanes: Vec<String> = schedule
        .lanes
        .iter()
        .zip(["A", "B", "C", "D"])
        .map(|(tasks, name)| {
            let ns: Vec<String> = tasks
                .iter()
                .map(|&i| TASKS.start().saturating_add(i as u32).to_string())
                .collect();
            format!("worker {name}: {}", ns.join(", "))
        })
        .collect();
    println!("  ({}, from the times above)", lanes.join("; "));
    let speedups = [
        ratio(serial_took, threads_took),
        ratio(serial_took, processes_took),
    ];
    println!("Thread pool speedup over serial:  {:.2}x", speedups[0]);
    println!("Process pool speedup over serial: {:.2}x", speedups[1]);
    let cpus = usable_cpus();
    println!("CPUs this process may use: {cpus} (Python: len(os.sched_getaffinity(0)))");
    println!(
        "While these runs went, other programs used {:.0}% of this machine's CPU time.",
        100.0 * others
    );
    let capacity = parallel_capacity(|| {
        std::hint::black_box(fib(std::hint::black_box(20)));
    });
    println!(
        "Two busy loops of 50ms on 2 threads ran {capacity:.2}x as fast as one alone (2.00x: 2 whole CPUs)."
    );
    let machine = Machine {
        cpus,
        others,
        capacity,
    };
    println!(
        "What to look for: {}",
        what_the_speedups_say(&machine, WORKERS, bound, speedups)
    );
    println!("Rust threads run CPU work in parallel: there is no GIL. In CPython the");
    println!("thread pool would stay near 1.0x, since one thread at a time runs Python code");
    println!("(in the default build: 3.13's optional free-threaded build has no GIL).");
}

// ---------------------------------------------------------------------------
/// Section 5: "dozens of threads are easy, dozens of processes are hard".
/// Returns what one process cost to start and join.
fn creation_cost() -> Duration {
    section(
        "What it costs to start and join 50 threads, then 50 processes",
        "threading.Thread(...).start()/join() vs multiprocessing.Process(...).start()/join()",
    );
    let ((), threads_took) = timed(|| {
        let handles: Vec<_> = (0..START_COUNT).map(|_| thread::spawn(|| {})).collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
    });
    let ((), processes_took) = timed(|| {
        let mut children: Vec<Process> = (0..START_COUNT)
            .map(|_| Process::start(|| {}).expect("fork"))
            .collect();
        for child in &mut children {
            assert_eq!(child.join().expect("waitpid"), 0);
        }
    });
    let per = |took: Duration| took / START_COUNT as u32;
    println!(
        "50 threads:   {threads_took:.1?} in all, {:.1?} each",
        per(threads_took)
    );
    println!(
        "50 processes: {processes_took:.1?} in all, {:.1?} each",
        per(processes_took)
    );
    println!(
        "A process cost {:.1}x a thread here.",
        ratio(processes_took, threads_took)
    );
    println!("What to look for: the cost of one thread against one process. A fork");
    println!("copies the parent's page tables, where a thread shares them. Python adds its");
    println!("own work on top: a multiprocessing.Process took about 1.5ms to start and join");
    println!("on the 2-core machine this course is checked on. A forked child shares its");
    println!("parent's memory, copy on write (lesson 02): dozens of processes are cheap");
    println!("until each writes its own pages, as CPython's reference counts do.");
    per(processes_took)
}

// ---------------------------------------------------------------------------
/// Section 6: "a process switch costs more than a thread switch". Two threads,
/// then two processes, pass a byte back and forth over a pair of pipes. Both
/// ends are pinned to one CPU, so every hand-off is a context switch; the
/// system calls are the same in both runs, so the difference is the switch.
fn switch_cost(fork_and_reap: Duration) {
    section(
        "Ping-pong on one CPU: 2 threads vs 2 processes, 2000 round trips",
        "two threading.Thread vs two multiprocessing.Process passing a token",
    );
    let original = sched_getaffinity(Pid::from_raw(0)).expect("sched_getaffinity");
    pin_to_current_cpu();
    println!("Pinned: this thread may use {} CPU now.", usable_cpus());

    let (ping, pong) = pipe_pair();
    let (thread_cpus, threads_took) = timed(|| {
        thread::scope(|scope| {
            // A new thread inherits its creator's CPU affinity.
            scope.spawn(move || echo(pong, ROUND_TRIPS));
            serve(ping, ROUND_TRIPS)
        })
    });

    let (ping, pong) = pipe_pair();
    let (process_cpus, processes_took) = timed(|| {
        // So does a forked child: a daemon, so that if this lesson is killed
        // it does not wait on the pipe forever (it holds both ends' copies).
        let mut child = Process::start_daemon(move || echo(pong, ROUND_TRIPS)).expect("fork");
        let peer_cpus = serve(ping, ROUND_TRIPS);
        assert_eq!(child.join().expect("waitpid"), 0);
        peer_cpus
    });
    println!("The peer thread may use {thread_cpus} CPU, the peer process {process_cpus}:");
    println!("both ends share one CPU, so each round trip is two context switches.");

    sched_setaffinity(Pid::from_raw(0), &original).expect("sched_setaffinity");
    let per = |took: Duration| took / ROUND_TRIPS;
    println!("threads:   {:.1?} per round trip", per(threads_took));
    println!("processes: {:.1?} per round trip", per(processes_took));
    println!(
        "Processes took {:.2}x the threads' time.",
        ratio(processes_took, threads_took)
    );
    println!("What to look for: the ratio. Both runs pass the token with the same system");
    println!(
        "calls (the process run also forks and reaps its peer, {fork_and_reap:.1?} in section 5); a switch"
    );
    println!("between processes also switches the address space, which on current x86");
    println!("Linux (with PCID) costs little, so the ratio is usually close to 1. The large");
    println!("costs of processes are elsewhere: starting them (section 5) and copying data");
    println!("between them (lessons 04 and 05).");
}

/// Two pipes: this end writes `ping` and reads `pong`; the other end the reverse.
struct PipeEnds {
    to_peer: File,
    from_peer: File,
}

fn pipe_pair() -> (PipeEnds, PipeEnds) {
    let open = || -> (File, File) {
        let (read, write): (OwnedFd, OwnedFd) = pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2");
        (File::from(read), File::from(write))
    };
    let (a_reads, b_writes) = open();
    let (b_reads, a_writes) = open();
    (
        PipeEnds {
            to_peer: a_writes,
            from_peer: a_reads,
        },
        PipeEnds {
            to_peer: b_writes,
            from_peer: b_reads,
        },
    )
}

/// Sends a byte and waits for it to come back, `trips` times. Returns how
/// many CPUs the peer said it may use (its first byte).
fn serve(mut ends: PipeEnds, trips: u32) -> u8 {
    let mut byte = [0u8];
    ends.from_peer.read_exact(&mut byte).expect("read");
    let peer_cpus = byte[0];
    for _ in 0..trips {
        ends.to_peer.write_all(&byte).expect("write");
        ends.from_peer.read_exact(&mut byte).expect("read");
    }
    peer_cpus
}

/// Says how many CPUs it may use, then sends back every byte it gets,
/// `trips` times.
fn echo(mut ends: PipeEnds, trips: u32) {
    let cpus = u8::try_from(usable_cpus()).unwrap_or(u8::MAX);
    ends.to_peer.write_all(&[cpus]).expect("write");
    let mut byte = [0u8];
    for _ in 0..trips {
        ends.from_peer.read_exact(&mut byte).expect("read");
        ends.to_peer.write_all(&byte).expect("write");
    }
}

fn pin_to_current_cpu() {
    let cpu = nix::sched::sched_getcpu().expect("sched_getcpu");
    let mut one = CpuSet::new();
    one.set(cpu).expect("CPU number in range");
    sched_setaffinity(Pid::from_raw(0), &one).expect("sched_setaffinity");
}

// ---------------------------------------------------------------------------
/// Section 7: threads are for waiting. While a thread sleeps (or waits for a
/// disk or a socket), the others run.
fn io_waits_overlap() {
    section(
        "IO-bound work: 10 threads each wait 100ms",
        "ThreadPoolExecutor(10) running time.sleep(0.1)",
    );
    let ((), took) = timed(|| {
        thread::scope(|scope| {
            for _ in 0..SLEEPERS {
                scope.spawn(|| thread::sleep(NAP));
            }
        })
    });
    println!("10 threads x 100ms of waiting: {took:.1?} in all (one after another: 1s).");
    // One after another would take 1s; overlapped, about 100ms. 500ms keeps
    // the verdict right on a loaded machine.
    println!(
        "overlapped (under 500ms): {}",
        took < Duration::from_millis(500)
    );
    println!("Waiting needs no CPU, so the waits overlap.");
    println!("Python threads overlap here too: time.sleep and blocking IO release the GIL.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fib_matches_the_tutorials_results() {
        let results: Vec<u64> = TASKS.map(fib).collect();
        assert_eq!(results, [832040, 1346269, 2178309, 3524578, 5702887]);
    }

    #[test]
    fn the_in_order_bound_for_fib_30_to_34_is_about_1_56() {
        // fib(n) takes time in proportion to fib(n) itself.
        let times: Vec<Duration> = TASKS.map(|n| Duration::from_micros(fib(n))).collect();
        let total: Duration = times.iter().sum();
        let bound = ratio(total, Schedule::in_order(&times, 2).makespan);
        assert!((1.55..1.57).contains(&bound), "{bound}");
        // One worker gets no speedup; five workers are bounded by fib(34).
        assert_eq!(Schedule::in_order(&times, 1).makespan, total);
        assert_eq!(Schedule::in_order(&times, 5).makespan, times[4]);
    }
}
