//! One measurement of a peer per run, for `cargo xtask bench`:
//!
//! ```text
//! bench-peers FIGURE PEER COUNT
//! ```
//!
//! runs COUNT operations of FIGURE with PEER, a crate a Rust programmer
//! would pick instead of the course's `multiproc`, used the way its own
//! documentation shows, and prints the seconds one operation took (for
//! `fib-threads`: the speedup over serial). The work is the same as
//! `bench`'s for the figure: the same message types and sizes, the
//! same tasks. `bench-peers --list` prints the `FIGURE PEER` pairs
//! it knows; `cargo xtask bench` checks them against its own list.
//!
//! A failure prints one line on stderr and exits with 1: the report shows
//! that line in the peer's column (Redis missing, say).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ipc_channel::ipc;
use rayon::prelude::*;

/// Every (figure, peer) pair this binary measures.
const PAIRS: &[(&str, &str)] = &[
    ("spawn", "procspawn"),
    ("pipe-rtt", "ipc-channel"),
    ("pipe-msgs", "ipc-channel"),
    ("pipe-mib", "ipc-channel"),
    ("queue", "ipc-channel"),
    ("queue", "crossbeam"),
    ("queue3", "crossbeam"),
    ("mdict", "redis"),
    ("mdict-tcp", "redis"),
    ("lock", "std-mutex"),
    ("imap1", "procspawn"),
    ("imapu1", "procspawn"),
    ("fib-threads", "rayon"),
];

fn main() {
    // procspawn runs this program again for each process it starts; this
    // call is where the child takes over (its counterpart of multiproc::init).
    procspawn::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args == ["--list"] {
        for (figure, peer) in PAIRS {
            println!("{figure} {peer}");
        }
        return;
    }
    // A point of a sweep: SWEEP PEER COUNT PARAMETER.
    if let [sweep, peer, count, parameter] = args.as_slice() {
        let number = |text: &str| text.parse::<u64>().ok();
        let value = match (sweep.as_str(), peer.as_str(), number(count)) {
            ("size", "ipc-channel", Some(count)) => {
                number(parameter).map(|size| ipc_one_way_bytes(count, size as usize))
            }
            ("pool", "procspawn", Some(count)) => {
                let fields: Option<Vec<u64>> = parameter.split(',').map(number).collect();
                match fields.as_deref() {
                    Some(&[workers, micros, _chunksize]) => {
                        Some(procspawn_pool_of(count, workers as usize, micros))
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        match value {
            Some(value) => println!("{value:e}"),
            None => {
                eprintln!("error: no sweep point `{sweep} {peer} {count} {parameter}`");
                std::process::exit(2);
            }
        }
        return;
    }
    let [figure, peer, count] = args.as_slice() else {
        eprintln!("usage: bench-peers FIGURE PEER COUNT (--list names the pairs)");
        std::process::exit(2);
    };
    let Ok(count) = count.parse::<u64>() else {
        eprintln!("error: COUNT must be a whole number, not `{count}`");
        std::process::exit(2);
    };
    let measured = match (figure.as_str(), peer.as_str()) {
        ("spawn", "procspawn") => Ok(procspawn_start_join(count)),
        ("pipe-rtt", "ipc-channel") => Ok(ipc_round_trip(count)),
        ("pipe-msgs", "ipc-channel") | ("queue", "ipc-channel") => Ok(ipc_one_way_small(count)),
        ("pipe-mib", "ipc-channel") => Ok(ipc_one_way_bytes(count, 1 << 20)),
        ("queue", "crossbeam") => Ok(crossbeam_between_threads(count, None)),
        ("queue3", "crossbeam") => Ok(crossbeam_between_threads(count, Some(3))),
        ("mdict", "redis") => redis_set_get(count),
        ("mdict-tcp", "redis") => redis_tcp_set_get(count),
        ("imap1", "procspawn") | ("imapu1", "procspawn") => Ok(procspawn_pool(count)),
        ("fib-threads", "rayon") => Ok(rayon_fib_speedup()),
        ("lock", "std-mutex") => Ok(std_mutex_uncontended(count)),
        _ => {
            eprintln!("error: no peer `{peer}` for figure `{figure}` (--list names the pairs)");
            std::process::exit(2);
        }
    };
    match measured {
        Ok(value) => println!("{value:e}"),
        Err(why) => {
            eprintln!("{why}");
            std::process::exit(1);
        }
    }
}

/// `count` lock-and-unlock pairs of a `std::sync::Mutex` in one thread.
fn std_mutex_uncontended(count: u64) -> f64 {
    let mutex = std::sync::Mutex::new(0_u64);
    let start = Instant::now();
    for _ in 0..count {
        *std::hint::black_box(&mutex).lock().unwrap() += 1;
    }
    per(start.elapsed(), count)
}

fn per(took: Duration, count: u64) -> f64 {
    took.as_secs_f64() / count.max(1) as f64
}

// --- procspawn: processes and a pool -------------------------------------------

fn nothing(_: ()) {}

/// Start a process that runs a function, and join it.
fn procspawn_start_join(count: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..count {
        procspawn::spawn((), nothing).join().expect("join");
    }
    per(start.elapsed(), count)
}

fn identity(x: u64) -> u64 {
    x
}

/// `count` one-item tasks on a pool of 2, results taken in order: the work
/// of `bench`'s imap figures with chunksize 1. At most `IN_FLIGHT`
/// tasks wait at a time (each handle holds its own channel, and so file
/// descriptors: ten thousand at once exhaust them), as `imap` itself keeps
/// a window of tasks ahead.
fn procspawn_pool(count: u64) -> f64 {
    procspawn_pool_of(count, 2, 0)
}

/// A task that keeps its CPU busy for `micros` microseconds.
fn spin(micros: u64) -> u64 {
    let until = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
    micros
}

/// `count` tasks on a pool of `workers`, each spinning `micros` µs (0: the
/// identity), results taken in order, at most `IN_FLIGHT` waiting.
fn procspawn_pool_of(count: u64, workers: usize, micros: u64) -> f64 {
    const IN_FLIGHT: usize = 256;
    let pool = procspawn::Pool::new(workers).expect("a pool");
    let start = Instant::now();
    let mut waiting = std::collections::VecDeque::with_capacity(IN_FLIGHT);
    let mut sum = 0u64;
    for x in 0..count {
        if waiting.len() == IN_FLIGHT {
            let handle: procspawn::JoinHandle<u64> = waiting.pop_front().expect("full");
            sum += handle.join().expect("a result");
        }
        waiting.push_back(if micros == 0 {
            pool.spawn(x, identity)
        } else {
            pool.spawn(micros, spin)
        });
    }
    for handle in waiting {
        sum += handle.join().expect("a result");
    }
    let took = start.elapsed();
    let expected = if micros == 0 {
        count * count.saturating_sub(1) / 2
    } else {
        count * micros
    };
    assert_eq!(sum, expected);
    pool.shutdown();
    per(took, count)
}

// --- ipc-channel: typed channels between processes -------------------------------

fn echo((requests, replies): (ipc::IpcReceiver<u32>, ipc::IpcSender<u32>)) {
    while let Ok(n) = requests.recv() {
        replies.send(n).expect("reply");
    }
}

/// A request and its reply between two processes, a `u32` each way.
fn ipc_round_trip(count: u64) -> f64 {
    let (to_child, requests) = ipc::channel::<u32>().expect("a channel");
    let (replies, from_child) = ipc::channel::<u32>().expect("a channel");
    let child = procspawn::spawn((requests, replies), echo);
    let start = Instant::now();
    for n in 0..count as u32 {
        to_child.send(n).expect("send");
        from_child.recv().expect("reply");
    }
    let took = start.elapsed();
    drop(to_child); // the child's recv fails: it returns
    child.join().expect("join");
    per(took, count)
}

fn send_small((sender, count): (ipc::IpcSender<u32>, u64)) {
    for n in 0..count as u32 {
        sender.send(n).expect("send");
    }
}

/// `count` `u32` messages from a child process to this one.
fn ipc_one_way_small(count: u64) -> f64 {
    let (sender, receiver) = ipc::channel::<u32>().expect("a channel");
    let child = procspawn::spawn((sender, count), send_small);
    let start = Instant::now();
    for _ in 0..count {
        receiver.recv().expect("recv");
    }
    let took = start.elapsed();
    child.join().expect("join");
    per(took, count)
}

fn send_bytes((sender, count, size): (ipc::IpcBytesSender, u64, usize)) {
    let payload = vec![7u8; size];
    for _ in 0..count {
        sender.send(&payload).expect("send");
    }
}

/// `count` messages of `size` bytes (ipc-channel's bytes channel: no
/// serialisation) from a child process to this one.
fn ipc_one_way_bytes(count: u64, size: usize) -> f64 {
    let (sender, receiver) = ipc::bytes_channel().expect("a channel");
    let child = procspawn::spawn((sender, count, size), send_bytes);
    let start = Instant::now();
    for _ in 0..count {
        let message = receiver.recv().expect("recv");
        assert_eq!(message.len(), size);
    }
    let took = start.elapsed();
    child.join().expect("join");
    per(took, count)
}

// --- crossbeam-channel: the same queue between threads ---------------------------

/// `count` `u32` items from one thread to another: what a Queue does between
/// processes, done between threads (no serialisation, no system call while
/// neither side waits).
fn crossbeam_between_threads(count: u64, bound: Option<usize>) -> f64 {
    let (sender, receiver) = match bound {
        Some(n) => crossbeam_channel::bounded::<u32>(n),
        None => crossbeam_channel::unbounded::<u32>(),
    };
    let producer = std::thread::spawn(move || {
        for n in 0..count as u32 {
            sender.send(n).expect("send");
        }
    });
    let start = Instant::now();
    for _ in 0..count {
        receiver.recv().expect("recv");
    }
    let took = start.elapsed();
    producer.join().expect("join");
    per(took, count)
}

// --- rayon: the fib figure on a thread pool -------------------------------------

fn fib(n: u32) -> u64 {
    if n <= 2 { 1 } else { fib(n - 1) + fib(n - 2) }
}

/// The same entry point as `bench`'s, for the same code.
#[inline(never)]
fn fib_task(n: u32) -> u64 {
    fib(std::hint::black_box(n))
}

/// As in `bench`: five tasks of about 0.1 to 0.6 s each.
const FIB_TASKS: std::ops::RangeInclusive<u32> = 38..=42;

/// The fib tasks on a rayon pool of 2 threads: serial time over parallel.
fn rayon_fib_speedup() -> f64 {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a pool of 2 threads");
    let start = Instant::now();
    for n in FIB_TASKS {
        std::hint::black_box(fib_task(n));
    }
    let serial = start.elapsed();
    let start = Instant::now();
    let results: Vec<u64> = pool.install(|| FIB_TASKS.into_par_iter().map(fib_task).collect());
    assert_eq!(results[4], 267_914_296);
    serial.as_secs_f64() / start.elapsed().as_secs_f64()
}

// --- redis: a dictionary in a server process -------------------------------------

/// `count` operations, half `SET` and half `GET`, on one key of a Redis
/// server reached over a Unix socket: the work of the manager dict figure.
/// The server is started here, on a socket in a private directory under
/// `COURSE_BENCH_TMP` (which `cargo xtask bench` removes afterwards, so
/// nothing is left even if this process is killed), and stopped before
/// returning.
fn redis_set_get(count: u64) -> Result<f64, String> {
    let server = RedisServer::start()?;
    let client = redis::Client::open(format!("unix://{}", server.socket.display()))
        .map_err(|e| format!("redis client: {e}"))?;
    let mut connection = client
        .get_connection()
        .map_err(|e| format!("connecting to redis-server: {e}"))?;
    let start = Instant::now();
    for n in 0..count / 2 {
        redis::cmd("SET")
            .arg("k")
            .arg(n)
            .exec(&mut connection)
            .map_err(|e| format!("SET: {e}"))?;
        let _: u64 = redis::cmd("GET")
            .arg("k")
            .query(&mut connection)
            .map_err(|e| format!("GET: {e}"))?;
    }
    let took = start.elapsed();
    drop(connection);
    drop(server);
    Ok(per(took, count))
}

/// The same SET/GET against a redis-server on a loopback TCP port, the
/// peer of our manager served over TCP. Its settings, the password among
/// them, go in on its stdin (never on a command line `ps` shows).
fn redis_tcp_set_get(count: u64) -> Result<f64, String> {
    use std::io::Write;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let mut random = [0u8; 16];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").map_err(|e| format!("/dev/urandom: {e}"))?,
        &mut random,
    )
    .map_err(|e| format!("/dev/urandom: {e}"))?;
    let password: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let mut child = Command::new("redis-server")
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!("redis-server is not installed ({e}): apt-get install redis-server")
        })?;
    let config =
        format!("bind 127.0.0.1\nport {port}\nsave \"\"\nappendonly no\nrequirepass {password}\n");
    let written = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(config.as_bytes()));
    let result = (|| {
        if !matches!(written, Some(Ok(()))) {
            return Err("redis-server did not take its settings".to_string());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("redis-server did not listen within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let client = redis::Client::open(format!("redis://:{password}@127.0.0.1:{port}/"))
            .map_err(|e| format!("redis client: {e}"))?;
        let mut connection = client
            .get_connection()
            .map_err(|e| format!("connecting to redis-server: {e}"))?;
        let start = Instant::now();
        for n in 0..count / 2 {
            redis::cmd("SET")
                .arg("k")
                .arg(n)
                .exec(&mut connection)
                .map_err(|e| format!("SET: {e}"))?;
            let _: u64 = redis::cmd("GET")
                .arg("k")
                .query(&mut connection)
                .map_err(|e| format!("GET: {e}"))?;
        }
        Ok(per(start.elapsed(), count))
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

struct RedisServer {
    child: Child,
    dir: PathBuf,
    socket: PathBuf,
}

impl RedisServer {
    fn start() -> Result<RedisServer, String> {
        let base = std::env::var_os("COURSE_BENCH_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        std::fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
        let dir = base.join(format!("redis-{}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let socket = dir.join("redis.sock");
        let spawned = Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(&socket)
            .args(["--unixsocketperm", "700", "--dir"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(format!(
                    "redis-server is not installed ({e}): apt-get install redis-server"
                ));
            }
        };
        let server = RedisServer { child, dir, socket };
        // Ready when its socket accepts a connection (at most 10 s).
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&server.socket).is_err() {
            if Instant::now() > deadline {
                return Err("redis-server did not listen within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(server)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
