//! One measurement per run, for `cargo xtask bench`:
//!
//! ```text
//! bench FIGURE IMPL COUNT
//! ```
//!
//! runs COUNT operations of FIGURE with IMPL (`ours`: the multiproc crate;
//! `raw`: the same work written directly on libc, the floor for it) and
//! prints the seconds one operation took, on average. The Python column comes
//! from `bench/python/bench.py`, which takes the same arguments.
//!
//! Every process it starts is joined before it prints. `bench --list`
//! prints the figures it knows, one a line: a test in `xtask` checks them
//! against the one list, `xtask/src/bench/figures.rs`.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use multiproc::{Manager, Pipe, Pool, Process, Queue};

/// The figures this binary measures, in the order of the match in `main`.
const FIGURES: [&str; 20] = [
    "fork",
    "spawn",
    "thread",
    "pipe-rtt",
    "pipe-msgs",
    "pipe-mib",
    "queue",
    "queue3",
    "mqueue",
    "mdict",
    "mdict-tcp",
    "lock",
    "incr2",
    "imap1",
    "imap100",
    "imapu1",
    "imapu100",
    "capacity",
    "fib-threads",
    "fib-procs",
];

mod sweeps;
mod sync;

use sync::{increments_ours, increments_raw, lock_ours, lock_raw, shared_atomic};

fn main() {
    multiproc::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args == ["--list"] {
        for figure in FIGURES {
            println!("{figure}");
        }
        return;
    }
    // The sweeps: one point of a curve, with its parameter.
    if let [sweep, implementation, count, parameter] = args.as_slice() {
        let Ok(count) = count.parse::<u64>() else {
            eprintln!("error: COUNT must be a whole number, not `{count}`");
            std::process::exit(2);
        };
        match sweeps::sweep_point(sweep, implementation, count, parameter) {
            Ok(per_op) => println!("{per_op:e}"),
            Err(why) => {
                eprintln!("error: {why}");
                std::process::exit(2);
            }
        }
        return;
    }
    let [figure, implementation, count] = args.as_slice() else {
        eprintln!("usage: bench FIGURE ours|raw COUNT, or SWEEP IMPL COUNT PARAMETER");
        std::process::exit(2);
    };
    let Ok(count) = count.parse::<u64>() else {
        eprintln!("error: COUNT must be a whole number, not `{count}`");
        std::process::exit(2);
    };
    let ours = match implementation.as_str() {
        "ours" => true,
        "raw" => false,
        other => {
            eprintln!("error: IMPL is `ours` or `raw`, not `{other}`");
            std::process::exit(2);
        }
    };
    if !FIGURES.contains(&figure.as_str()) {
        eprintln!("error: unknown figure `{figure}` (bench --list names them)");
        std::process::exit(2);
    }
    let per_op = match (figure.as_str(), ours) {
        ("fork", true) => fork_ours(count),
        ("fork", false) => fork_raw(count),
        ("spawn", true) => spawn_ours(count),
        ("spawn", false) => spawn_raw(count),
        ("thread", true) => thread_ours(count),
        ("thread", false) => thread_raw(count),
        ("pipe-rtt", true) => pipe_rtt_ours(count),
        ("pipe-rtt", false) => rtt_raw(count),
        ("pipe-msgs", true) => pipe_one_way_ours(count, 4),
        ("pipe-msgs", false) => pipe_one_way_raw(count, 4),
        ("pipe-mib", true) => pipe_one_way_ours(count, 1 << 20),
        ("pipe-mib", false) => pipe_one_way_raw(count, 1 << 20),
        ("queue", true) => queue_ours(count, 0),
        ("queue3", true) => queue_ours(count, 3),
        ("queue", false) => pipe_one_way_raw(count, 4),
        ("queue3", false) => bounded_pipe_raw(count, 3),
        ("mqueue", true) => manager_queue_ours(count),
        ("mdict", true) => manager_dict_ours(count),
        ("mqueue" | "mdict", false) => rtt_raw(count),
        ("mdict-tcp", true) => manager_dict_tcp_ours(count),
        ("mdict-tcp", false) => rtt_tcp_raw(count),
        ("lock", true) => lock_ours(count),
        ("lock", false) => lock_raw(count),
        ("incr2", true) => increments_ours(count),
        ("incr2", false) => increments_raw(count),
        ("imap1", true) => imap_ours(count, 1, false),
        ("imap100", true) => imap_ours(count, 100, false),
        ("imapu1", true) => imap_ours(count, 1, true),
        ("imapu100", true) => imap_ours(count, 100, true),
        ("imap1" | "imapu1", false) => pool_raw(count, 1),
        ("imap100" | "imapu100", false) => pool_raw(count, 100),
        ("capacity", true) => capacity(false),
        ("capacity", false) => capacity(true),
        ("fib-threads", true) => fib_threads_ours(),
        ("fib-procs", true) => fib_processes_ours(),
        ("fib-threads" | "fib-procs", false) => fib_bound(),
        (other, _) => unreachable!("`{other}` is in FIGURES but has no arm here"),
    };
    println!("{per_op:e}");
}

/// Seconds per operation for `count` operations that took `took`.
fn per(took: Duration, count: u64) -> f64 {
    took.as_secs_f64() / count.max(1) as f64
}

// --- process start+join ----------------------------------------------------

fn fork_ours(count: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..count {
        Process::start(|| {}).unwrap().join().unwrap();
    }
    per(start.elapsed(), count)
}

fn fork_raw(count: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..count {
        // Safety: single-threaded; the child only calls `_exit`.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // Safety: `_exit` takes an integer and never returns.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // Safety: waits for our own child; `status` is a valid local.
        unsafe { libc::waitpid(pid, &raw mut status, 0) };
    }
    per(start.elapsed(), count)
}

fn nothing(_: ()) {}

fn spawn_ours(count: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..count {
        Process::spawn(nothing, ()).unwrap().join().unwrap();
    }
    per(start.elapsed(), count)
}

fn spawn_raw(count: u64) -> f64 {
    // The floor for a spawn: fork + exec of a program that exits at once.
    let start = Instant::now();
    for _ in 0..count {
        std::process::Command::new("/bin/true").status().unwrap();
    }
    per(start.elapsed(), count)
}

fn thread_ours(count: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..count {
        std::thread::spawn(|| {}).join().unwrap();
    }
    per(start.elapsed(), count)
}

extern "C" fn nothing_c(_: *mut libc::c_void) -> *mut libc::c_void {
    std::ptr::null_mut()
}

fn thread_raw(count: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..count {
        let mut thread: libc::pthread_t = 0;
        // Safety: `thread` is a valid out-pointer; the start routine takes
        // and returns raw pointers and touches nothing.
        unsafe {
            libc::pthread_create(
                &raw mut thread,      // Where to put the thread's id.
                std::ptr::null(),     // Default attributes.
                nothing_c,            // The start routine.
                std::ptr::null_mut(), // Its argument.
            )
        };
        // Safety: `thread` was just created and is joined once.
        unsafe { libc::pthread_join(thread, std::ptr::null_mut()) };
    }
    per(start.elapsed(), count)
}

// --- pipes -------------------------------------------------------------------

fn pipe_rtt_ours(count: u64) -> f64 {
    let (mut here, mut there) = Pipe::duplex().unwrap();
    let mut child = Process::start(|| {
        here.close();
        while let Ok(n) = there.recv::<u32>() {
            there.send(&n).unwrap();
        }
    })
    .unwrap();
    there.close();
    let start = Instant::now();
    for n in 0..count as u32 {
        here.send(&n).unwrap();
        here.recv::<u32>().unwrap();
    }
    let took = start.elapsed();
    here.close();
    child.join().unwrap();
    per(took, count)
}

/// A socketpair ping-pong of 8-byte messages (a 4-byte length, 4 bytes):
/// the floor for any request and reply between two processes.
fn rtt_raw(count: u64) -> f64 {
    let (mut here, mut there) = UnixStream::pair().unwrap();
    let mut child = Process::start(move || {
        let mut buf = [0u8; 8];
        while there.read_exact(&mut buf).is_ok() {
            there.write_all(&buf).unwrap();
        }
    })
    .unwrap();
    let mut buf = [0u8; 8];
    let start = Instant::now();
    for _ in 0..count {
        here.write_all(&buf).unwrap();
        here.read_exact(&mut buf).unwrap();
    }
    let took = start.elapsed();
    // End of stream for the child, whatever copies of `here` exist.
    here.shutdown(std::net::Shutdown::Both).unwrap();
    child.join().unwrap();
    per(took, count)
}

fn pipe_one_way_ours(count: u64, size: usize) -> f64 {
    let (mut reader, mut writer) = Pipe::one_way().unwrap();
    let payload = vec![7u8; size];
    let mut child = Process::start(|| {
        reader.close();
        for _ in 0..count {
            if size <= 4 {
                writer.send(&(size as u32)).unwrap();
            } else {
                writer.send_bytes(&payload).unwrap();
            }
        }
    })
    .unwrap();
    writer.close();
    let start = Instant::now();
    for _ in 0..count {
        if size <= 4 {
            reader.recv::<u32>().unwrap();
        } else {
            reader.recv_bytes().unwrap();
        }
    }
    let took = start.elapsed();
    child.join().unwrap();
    per(took, count)
}

/// Framed writes to a pipe and framed reads, with no serialisation: a 4-byte
/// length, then the bytes.
fn pipe_one_way_raw(count: u64, size: usize) -> f64 {
    let mut fds = [0; 2];
    // Safety: `fds` is a valid array of two ints for pipe2 to fill.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // Safety: pipe2 just returned these two descriptors; each is owned once.
    let read_end = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    // Safety: as above.
    let write_end = unsafe { OwnedFd::from_raw_fd(fds[1]) };
    let mut reader = std::fs::File::from(read_end);
    let mut writer = std::fs::File::from(write_end);
    let mut frame = (size as u32).to_be_bytes().to_vec();
    frame.extend(std::iter::repeat_n(7u8, size));
    let mut child = Process::start(move || {
        for _ in 0..count {
            writer.write_all(&frame).unwrap();
        }
    })
    .unwrap();
    let mut prefix = [0u8; 4];
    let mut body = vec![0u8; size];
    let start = Instant::now();
    for _ in 0..count {
        reader.read_exact(&mut prefix).unwrap();
        let len = u32::from_be_bytes(prefix) as usize;
        reader.read_exact(&mut body[..len]).unwrap();
    }
    let took = start.elapsed();
    child.join().unwrap();
    per(took, count)
}

// --- queues --------------------------------------------------------------------

fn queue_ours(count: u64, maxsize: usize) -> f64 {
    let queue: Queue<u32> = Queue::new(maxsize).unwrap();
    let mut child = Process::start(|| {
        for n in 0..count as u32 {
            queue.put(&n).unwrap();
        }
    })
    .unwrap();
    let start = Instant::now();
    for _ in 0..count {
        queue.get().unwrap();
    }
    let took = start.elapsed();
    child.join().unwrap();
    per(took, count)
}

/// The floor for a bounded queue: 4-byte frames through a pipe, and a
/// count of free places in shared memory that the producer takes one of
/// before each write (sleeping on a futex while it is 0) and the consumer
/// gives back after each read, waking the producer only if it sleeps.
fn bounded_pipe_raw(count: u64, places: u32) -> f64 {
    use std::sync::atomic::AtomicU32;
    use std::sync::atomic::Ordering::SeqCst;
    let free = shared_atomic::<AtomicU32>();
    let asleep = shared_atomic::<AtomicU32>();
    free.store(places, SeqCst);
    let mut fds = [0; 2];
    // Safety: `fds` is a valid array of two ints for pipe2 to fill.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // Safety: pipe2 just returned these two descriptors; each is owned once.
    let mut reader = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fds[0]) });
    // Safety: as above.
    let mut writer = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fds[1]) });
    let mut child = Process::start(move || {
        let frame = 4u32.to_be_bytes().repeat(2);
        for _ in 0..count {
            loop {
                let now = free.load(SeqCst);
                if now > 0 {
                    if free.compare_exchange(now, now - 1, SeqCst, SeqCst).is_ok() {
                        break;
                    }
                    continue;
                }
                asleep.store(1, SeqCst);
                if free.load(SeqCst) == 0 {
                    // Safety: futex(2) on a word of a live shared mapping,
                    // sleeping only while it holds 0; no timeout.
                    unsafe {
                        libc::syscall(
                            libc::SYS_futex,
                            free.as_ptr(),
                            libc::FUTEX_WAIT,
                            0,
                            std::ptr::null::<libc::timespec>(),
                        )
                    };
                }
            }
            writer.write_all(&frame).unwrap();
        }
    })
    .unwrap();
    let mut frame = [0u8; 8];
    let start = Instant::now();
    for _ in 0..count {
        reader.read_exact(&mut frame).unwrap();
        free.fetch_add(1, SeqCst);
        if asleep.swap(0, SeqCst) == 1 {
            // Safety: as above: wake the producer sleeping on the word.
            unsafe { libc::syscall(libc::SYS_futex, free.as_ptr(), libc::FUTEX_WAKE, 1) };
        }
    }
    let took = start.elapsed();
    child.join().unwrap();
    per(took, count)
}

fn manager_queue_ours(count: u64) -> f64 {
    let manager = Manager::start().unwrap();
    let queue = manager.queue::<u32>(0).unwrap();
    let mut child = Process::start(|| {
        for n in 0..count as u32 {
            queue.put(&n, None).unwrap();
        }
    })
    .unwrap();
    let start = Instant::now();
    for _ in 0..count {
        queue.get(None).unwrap();
    }
    let took = start.elapsed();
    child.join().unwrap();
    manager.shutdown().unwrap();
    per(took, count)
}

fn manager_dict_ours(count: u64) -> f64 {
    let manager = Manager::start().unwrap();
    let dict = manager.dict::<u64>().unwrap();
    let start = Instant::now();
    for n in 0..count / 2 {
        dict.set("k", &n).unwrap();
        dict.get("k").unwrap();
    }
    let took = start.elapsed();
    manager.shutdown().unwrap();
    per(took, count)
}

/// The same set/get, through a manager served on loopback TCP and reached
/// with `manager::connect`, as a process on another host would.
fn manager_dict_tcp_ours(count: u64) -> f64 {
    let key = [5u8; 32];
    let manager = Manager::serve("127.0.0.1:0".parse().unwrap(), key).unwrap();
    let address = manager.tcp_address().unwrap();
    let remote =
        multiproc::manager::connect(address, key, std::time::Duration::from_secs(5)).unwrap();
    let dict = remote.dict::<u64>().unwrap();
    let start = Instant::now();
    for n in 0..count / 2 {
        dict.set("k", &n).unwrap();
        dict.get("k").unwrap();
    }
    let took = start.elapsed();
    drop(dict);
    manager.shutdown().unwrap();
    per(took, count)
}

/// A round trip of 8 bytes over loopback TCP to an echoing child, with
/// TCP_NODELAY: the floor of any request over TCP.
fn rtt_tcp_raw(count: u64) -> f64 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let mut child = Process::start(move || {
        let (mut there, _) = listener.accept().unwrap();
        there.set_nodelay(true).unwrap();
        let mut buf = [0u8; 8];
        while there.read_exact(&mut buf).is_ok() {
            there.write_all(&buf).unwrap();
        }
    })
    .unwrap();
    let mut here = std::net::TcpStream::connect(address).unwrap();
    here.set_nodelay(true).unwrap();
    let mut buf = [0u8; 8];
    let start = Instant::now();
    for _ in 0..count {
        here.write_all(&buf).unwrap();
        here.read_exact(&mut buf).unwrap();
    }
    let took = start.elapsed();
    here.shutdown(std::net::Shutdown::Both).unwrap();
    child.join().unwrap();
    per(took, count)
}

// --- pools ---------------------------------------------------------------------

fn identity(x: u64) -> u64 {
    x
}

fn imap_ours(count: u64, chunksize: usize, unordered: bool) -> f64 {
    let pool = Pool::new(2).unwrap();
    let start = Instant::now();
    let sum: u64 = if unordered {
        pool.imap_unordered(identity, 0..count, chunksize)
            .unwrap()
            .map(Result::unwrap)
            .sum()
    } else {
        pool.imap(identity, 0..count, chunksize)
            .unwrap()
            .map(Result::unwrap)
            .sum()
    };
    let took = start.elapsed();
    assert_eq!(sum, count * count.saturating_sub(1) / 2);
    pool.close();
    pool.join().unwrap();
    per(took, count)
}

/// Two forked workers, each on its own socketpair, each kept busy with one
/// batch of `batch` 8-byte items at a time: the floor for a pool's dispatch.
fn pool_raw(count: u64, batch: u64) -> f64 {
    let mut conns = Vec::new();
    let mut workers = Vec::new();
    for _ in 0..2 {
        let (here, mut there) = UnixStream::pair().unwrap();
        workers.push(
            Process::start(move || {
                let mut buf = vec![0u8; 8 * batch as usize];
                while there.read_exact(&mut buf).is_ok() {
                    there.write_all(&buf).unwrap();
                }
            })
            .unwrap(),
        );
        conns.push(here);
    }
    let batches = count.div_ceil(batch);
    let mut buf = vec![0u8; 8 * batch as usize];
    let start = Instant::now();
    let mut sent = 0;
    let mut in_flight = [false; 2];
    let mut done = 0;
    while done < batches {
        for (i, conn) in conns.iter_mut().enumerate() {
            if !in_flight[i] && sent < batches {
                conn.write_all(&buf).unwrap();
                in_flight[i] = true;
                sent += 1;
            }
        }
        for (i, conn) in conns.iter_mut().enumerate() {
            if in_flight[i] {
                conn.read_exact(&mut buf).unwrap();
                in_flight[i] = false;
                done += 1;
            }
        }
    }
    let took = start.elapsed();
    for conn in &conns {
        conn.shutdown(std::net::Shutdown::Both).unwrap();
    }
    for worker in &mut workers {
        worker.join().unwrap();
    }
    per(took, count)
}

// --- fib ---------------------------------------------------------------------------

fn fib(n: u32) -> u64 {
    if n <= 2 { 1 } else { fib(n - 1) + fib(n - 2) }
}

/// The one entry point all three fib variants call, so that the optimiser
/// cannot treat the serial run differently from the parallel ones.
#[inline(never)]
fn fib_task(n: u32) -> u64 {
    fib(std::hint::black_box(n))
}

/// The five tasks of the fib figures: about 0.1 to 0.6 s each in a release
/// build, so that a few ms of noise are small against each one.
const FIB_TASKS: std::ops::RangeInclusive<u32> = 38..=42;

fn serial_times() -> Vec<Duration> {
    FIB_TASKS
        .map(|n| {
            let start = Instant::now();
            std::hint::black_box(fib_task(n));
            start.elapsed()
        })
        .collect()
}

fn serial_total() -> Duration {
    serial_times().iter().sum()
}

/// Speedup figures are printed as "serial time / parallel time" (higher is
/// better).
fn fib_threads_ours() -> f64 {
    let serial = serial_total();
    let start = Instant::now();
    let next = std::sync::Mutex::new(FIB_TASKS);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let n = next.lock().unwrap().next();
                    let Some(n) = n else { break };
                    std::hint::black_box(fib_task(n));
                }
            });
        }
    });
    serial.as_secs_f64() / start.elapsed().as_secs_f64()
}

fn fib_processes_ours() -> f64 {
    let pool = Pool::new(2).unwrap();
    let serial = serial_total();
    let start = Instant::now();
    let results = pool.map(fib_task, FIB_TASKS, 1).unwrap();
    let took = start.elapsed();
    assert_eq!(results[4], 267_914_296);
    pool.close();
    pool.join().unwrap();
    serial.as_secs_f64() / took.as_secs_f64()
}

/// What this machine gives two busy loops: one loop alone, then two at once
/// (on two threads, or on two forked processes), as a speedup over running
/// them one after the other. 2.0 means two whole CPUs; a VM whose two CPUs
/// share a physical core with other VMs reads less, and then no pool can
/// reach the fib figures' bound.
fn capacity(processes: bool) -> f64 {
    const N: u32 = 32;
    let start = Instant::now();
    std::hint::black_box(fib_task(N));
    let alone = start.elapsed();
    let start = Instant::now();
    if processes {
        let mut children: Vec<Process> = (0..2)
            .map(|_| {
                Process::start(|| {
                    std::hint::black_box(fib_task(N));
                })
                .unwrap()
            })
            .collect();
        for child in &mut children {
            child.join().unwrap();
        }
    } else {
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| std::hint::black_box(fib_task(N)));
            }
        });
    }
    2.0 * alone.as_secs_f64() / start.elapsed().as_secs_f64()
}

/// The best speedup 2 workers can reach taking the fib tasks in order.
fn fib_bound() -> f64 {
    let times = serial_times();
    let mut free_at = [Duration::ZERO; 2];
    for t in &times {
        let first = free_at.iter_mut().min().unwrap();
        *first += *t;
    }
    let total: Duration = times.iter().sum();
    total.as_secs_f64() / free_at.iter().max().unwrap().as_secs_f64()
}
