//! Scenarios that exercise `multiproc` from a real, single-threaded process,
//! for the crate's tests (`tests/scenarios.rs`), which must not fork inside
//! the multithreaded test harness. Each prints what happened, one fact a line.
//!
//! Usage: multiproc-scenarios <SCENARIO>

use std::time::{Duration, Instant};

use multiproc::WireError;
use multiproc::{
    DictProxy, Error, Manager, ManagerError, Pipe, Pool, Process, Queue, QueueProxy, Run, TaskError,
};

fn main() {
    if std::env::var_os("SCENARIO_SKIP_INIT").is_none() {
        multiproc::init();
    } else if std::env::var_os("MULTIPROC_SPAWN").is_some() {
        // A spawned child whose main forgot init(): it runs main again.
        let again = Process::spawn(print_arg, 0u32);
        println!("child without init: spawn refused: {}", again.unwrap_err());
        std::process::exit(3);
    }
    let scenario = std::env::args().nth(1).unwrap_or_default();
    match scenario.as_str() {
        "exitcodes" => exitcodes(),
        "join-timeout" => join_timeout(),
        "run-trait" => run_trait(),
        "pool-errors" => pool_errors(),
        "pool-worker-killed" => pool_worker_killed(),
        "pool-orders" => pool_orders(),
        "pool-join-before-close" => pool_join_before_close(),
        "fork-refused" => fork_refused(),
        "spawn" => spawn(),
        "spawn-without-init" => spawn_without_init(),
        "drop-kills" => drop_kills(),
        "late-child-does-not-hold-pool" => late_child_does_not_hold_pool(),
        "queue-mpmc" => queue_mpmc(),
        "queue-limits" => queue_limits(),
        "queue-consumer-killed" => queue_consumer_killed(),
        "queue-writer-killed-mid-item" => queue_writer_killed_mid_item(),
        "pipe-basics" => pipe_basics(),
        "pipe-eof" => pipe_eof(),
        "pipe-bad-frames" => pipe_bad_frames(),
        "manager-basics" => manager_basics(),
        "manager-bad-clients" => manager_bad_clients(),
        "manager-killed" => manager_killed(),
        "manager-lock-holder-dies" => manager_lock_holder_dies(),
        "manager-other-uid" => manager_other_uid(),
        other => {
            eprintln!("unknown scenario `{other}`");
            std::process::exit(2);
        }
    }
}

fn exitcodes() {
    let mut normal = Process::start(|| {}).unwrap();
    let mut seven = Process::start_with_code(|| 7).unwrap();
    let mut panics = Process::start(|| panic!("on purpose")).unwrap();
    let mut killed = Process::start(|| std::thread::sleep(Duration::from_secs(30))).unwrap();
    killed.kill().unwrap();
    let mut terminated = Process::start(|| std::thread::sleep(Duration::from_secs(30))).unwrap();
    terminated.terminate().unwrap();
    println!("exitcode before join: {:?}", normal.exitcode());
    for (name, child) in [
        ("normal", &mut normal),
        ("exit 7", &mut seven),
        ("panic", &mut panics),
        ("SIGKILL", &mut killed),
        ("SIGTERM", &mut terminated),
    ] {
        let code = child.join().unwrap();
        println!(
            "{name}: {code} (exitcode {:?}, alive {})",
            child.exitcode(),
            child.is_alive()
        );
    }
}

fn join_timeout() {
    let mut sleeper = Process::start(|| std::thread::sleep(Duration::from_secs(30))).unwrap();
    println!("alive: {}", sleeper.is_alive());
    let started = Instant::now();
    let outcome = sleeper.join_timeout(Duration::from_millis(300)).unwrap();
    println!(
        "join_timeout(300ms): {outcome:?} after {}ms",
        started.elapsed().as_millis()
    );
    sleeper.kill().unwrap();
    let started = Instant::now();
    let outcome = sleeper.join_timeout(Duration::from_secs(5)).unwrap();
    println!(
        "after kill: {outcome:?} after {}ms",
        started.elapsed().as_millis()
    );
}

struct PrintFib {
    n: u32,
}

impl Run for PrintFib {
    fn run(&mut self) {
        println!("run fib {}: {}", self.n, fib(self.n));
    }
}

fn fib(n: u32) -> u64 {
    if n <= 2 { 1 } else { fib(n - 1) + fib(n - 2) }
}

fn run_trait() {
    let mut child = PrintFib { n: 10 }.start().unwrap();
    println!("joined: {}", child.join().unwrap());
}

fn panics_on_three(x: u32) -> u32 {
    if x == 3 {
        panic!("three is not allowed");
    }
    x * 10
}

fn pool_errors() {
    let pool = Pool::new(2).unwrap();
    let handles: Vec<_> = (1..=5)
        .map(|x| pool.apply_async(panics_on_three, x).unwrap())
        .collect();
    for (x, handle) in (1..=5).zip(&handles) {
        match handle.get() {
            Ok(v) => println!("task {x}: Ok({v})"),
            Err(e) => println!("task {x}: Err({e})"),
        }
    }
    let chunked: Vec<String> = pool
        .imap(panics_on_three, 1..=5, 2)
        .unwrap()
        .map(|r| match r {
            Ok(v) => v.to_string(),
            Err(TaskError::Panicked(_)) => "panicked".into(),
            Err(e) => format!("{e}"),
        })
        .collect();
    println!("imap chunksize 2: {chunked:?}");
    println!("map: {:?}", pool.map(panics_on_three, [1, 2], 1));
    println!(
        "map with a panic: {}",
        pool.map(panics_on_three, [1, 3], 1).unwrap_err()
    );
    let slow = pool.apply_async(sleep_ms, 500).unwrap();
    println!("ready at once: {}", slow.ready());
    println!(
        "get_timeout(100ms): {:?}",
        slow.get_timeout(Duration::from_millis(100))
    );
    println!("get: {:?}", slow.get());
    pool.close();
    println!(
        "apply_async after close: {}",
        pool.apply_async(sleep_ms, 1).err().unwrap()
    );
    pool.join().unwrap();
}

fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn kill_myself(_: ()) {
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL).unwrap();
}

fn pool_worker_killed() {
    let pool = Pool::new(1).unwrap();
    let before = pool.worker_pids();
    // Killed from outside while it runs a long task.
    let long = pool.apply_async(sleep_ms, 10_000).unwrap();
    let queued = pool.apply_async(sleep_ms, 1).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let victim = nix::unistd::Pid::from_raw(before[0]);
    nix::sys::signal::kill(victim, nix::sys::signal::Signal::SIGKILL).unwrap();
    let started = Instant::now();
    let outcome = long.get();
    let waited = started.elapsed();
    match &outcome {
        Err(TaskError::WorkerDied { pid, exitcode }) => {
            println!(
                "long task: worker died, pid is the victim's: {}, exitcode {exitcode}",
                *pid == before[0]
            )
        }
        other => println!("long task: unexpected {other:?}"),
    }
    println!(
        "error text: {}",
        outcome
            .unwrap_err()
            .to_string()
            .replace(&before[0].to_string(), "N")
    );
    println!("noticed within 1s: {}", waited < Duration::from_secs(1));
    println!("the queued task still ran: {:?}", queued.get());
    let after = pool.worker_pids();
    println!("replaced: {}", after.len() == 1 && after[0] != before[0]);
    // A task that kills its own worker.
    println!(
        "suicide: {}",
        pool.apply_async(kill_myself, ())
            .unwrap()
            .get()
            .unwrap_err()
            .to_string()
            .contains("signal 9")
    );
    println!(
        "still serving: {:?}",
        pool.apply_async(sleep_ms, 2).unwrap().get()
    );
}

fn pool_orders() {
    let pool = Pool::new(3).unwrap();
    let ordered: Vec<u64> = pool
        .imap(sleep_ms, [300, 500, 100], 1)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    println!("imap: {ordered:?}");
    let unordered: Vec<u64> = pool
        .imap_unordered(sleep_ms, [300, 500, 100], 1)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    println!("imap_unordered: {unordered:?}");
    let squares = pool.map(|x: u64| x * x, 0..10, 3).unwrap();
    println!("map chunksize 3: {squares:?}");
    let many: u64 = pool
        .imap_unordered(|x: u64| x, 0..1000, 7)
        .unwrap()
        .map(Result::unwrap)
        .sum();
    println!("imap_unordered 1000 items, chunksize 7, sum: {many}");
    println!(
        "chunksize 0: {}",
        pool.imap(sleep_ms, [1], 0).err().unwrap()
    );
}

fn pool_join_before_close() {
    let pool = Pool::new(1).unwrap();
    println!("join before close: {}", pool.join().unwrap_err());
    pool.close();
    println!(
        "join after close: {:?}",
        pool.join().map_err(|e| e.to_string())
    );
}

fn fork_refused() {
    let (stop, wait) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let _ = wait.recv();
    });
    match Process::start(|| {}) {
        Err(e @ Error::Multithreaded { .. }) => println!("Process::start refused: {e}"),
        other => println!("unexpected: {other:?}"),
    }
    println!(
        "Pool::new refused: {}",
        matches!(Pool::new(1), Err(Error::Multithreaded { threads: 2 }))
    );
    // Spawn is the start method that works here.
    let mut spawned = Process::spawn(print_arg, 5u32).unwrap();
    println!(
        "spawn while multithreaded joined: {}",
        spawned.join().unwrap()
    );
    drop(stop);
    thread.join().unwrap();
    let mut forked = Process::start(|| {}).unwrap();
    println!(
        "after the thread is joined, fork works: {}",
        forked.join().unwrap()
    );
}

fn print_arg(x: u32) {
    println!(
        "spawned child got {x}, parent pid={}",
        nix::unistd::getppid()
    );
    if x == 13 {
        panic!("unlucky");
    }
}

fn spawn() {
    println!("parent pid={}", std::process::id());
    let mut child = Process::spawn(print_arg, 42u32).unwrap();
    println!("spawn joined: {}", child.join().unwrap());
    let mut panics = Process::spawn(print_arg, 13u32).unwrap();
    println!("spawn panicking joined: {}", panics.join().unwrap());
    let mut slow = Process::spawn(sleep_then_print, 200).unwrap();
    println!(
        "spawn join_timeout(50ms): {:?}",
        slow.join_timeout(Duration::from_millis(50)).unwrap()
    );
    println!(
        "spawn join_timeout(5s): {:?}",
        slow.join_timeout(Duration::from_secs(5)).unwrap()
    );
}

fn sleep_then_print(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
    println!("slept {ms}ms");
}

fn spawn_without_init() {
    // Safety: single-threaded here; the variable is read by the child.
    unsafe { std::env::set_var("SCENARIO_SKIP_INIT", "1") };
    let mut child = Process::spawn(print_arg, 1u32).unwrap();
    println!("child exit: {}", child.join().unwrap());
}

fn drop_kills() {
    let child = Process::start(|| std::thread::sleep(Duration::from_secs(30))).unwrap();
    let pid = child.pid();
    drop(child);
    let gone = std::fs::metadata(format!("/proc/{pid}")).is_err();
    println!("dropped while running: reaped and gone: {gone}");
}

fn late_child_does_not_hold_pool() {
    let pool = Pool::new(2).unwrap();
    // A child forked after the pool inherits copies of the pool's descriptors;
    // it must close them, or the workers never see end of stream.
    let mut late = Process::start(|| std::thread::sleep(Duration::from_secs(3))).unwrap();
    pool.close();
    let started = Instant::now();
    pool.join().unwrap();
    println!(
        "pool joined while a later child lives: {}",
        started.elapsed() < Duration::from_secs(2)
    );
    late.kill().unwrap();
    late.join().unwrap();
}

const PRODUCERS: u32 = 4;
const PER_PRODUCER: u32 = 10_000;
const CONSUMERS: u32 = 3;

fn queue_mpmc() {
    let queue: Queue<Option<(u32, u32)>> = Queue::new(100).unwrap();
    let report: Queue<(u32, u64, u64, bool)> = Queue::new(0).unwrap();
    let mut consumers: Vec<Process> = (0..CONSUMERS)
        .map(|c| {
            Process::start(|| {
                let (mut count, mut checksum) = (0u64, 0u64);
                let mut last = vec![None::<u32>; PRODUCERS as usize];
                let mut in_order = true;
                while let Some((p, i)) = queue.get().unwrap() {
                    count += 1;
                    checksum += u64::from(p) * 1_000_000 + u64::from(i);
                    in_order &= last[p as usize].is_none_or(|prev| prev < i);
                    last[p as usize] = Some(i);
                }
                report.put(&(c, count, checksum, in_order)).unwrap();
            })
            .unwrap()
        })
        .collect();
    let mut producers: Vec<Process> = (0..PRODUCERS)
        .map(|p| {
            Process::start(|| {
                for i in 0..PER_PRODUCER {
                    queue.put(&Some((p, i))).unwrap();
                }
            })
            .unwrap()
        })
        .collect();
    for producer in &mut producers {
        assert_eq!(producer.join().unwrap(), 0);
    }
    for _ in 0..CONSUMERS {
        queue.put(&None).unwrap();
    }
    let (mut total, mut checksum, mut all_in_order) = (0, 0, true);
    for _ in 0..CONSUMERS {
        let (_, count, sum, in_order) = report.get_timeout(Duration::from_secs(20)).unwrap();
        total += count;
        checksum += sum;
        all_in_order &= in_order;
    }
    for consumer in &mut consumers {
        assert_eq!(consumer.join().unwrap(), 0);
    }
    let expected: u64 = (0..PRODUCERS)
        .flat_map(|p| (0..PER_PRODUCER).map(move |i| u64::from(p) * 1_000_000 + u64::from(i)))
        .sum();
    println!("received: {total} of {}", PRODUCERS * PER_PRODUCER);
    println!("checksum matches: {}", checksum == expected);
    println!("each producer's items in order: {all_in_order}");
    println!("left in the queue: {}", queue.qsize());
}

fn queue_limits() {
    let mut queue: Queue<String> = Queue::new(2).unwrap();
    println!("empty: {}, qsize {}", queue.is_empty(), queue.qsize());
    queue.put(&"a".into()).unwrap();
    queue.put_nowait(&"b".into()).unwrap();
    println!("full: {}, qsize {}", queue.is_full(), queue.qsize());
    println!(
        "put_nowait on a full queue: {}",
        queue.put_nowait(&"c".into()).unwrap_err()
    );
    let started = Instant::now();
    let outcome = queue.put_timeout(&"c".into(), Duration::from_millis(200));
    println!(
        "put_timeout(200ms) on a full queue: {} after {}ms",
        outcome.unwrap_err(),
        started.elapsed().as_millis()
    );
    println!(
        "get: {:?} {:?}",
        queue.get().unwrap(),
        queue.get_nowait().unwrap()
    );
    println!(
        "get_nowait on an empty queue: {}",
        queue.get_nowait().unwrap_err()
    );
    let started = Instant::now();
    let outcome = queue.get_timeout(Duration::from_millis(200));
    println!(
        "get_timeout(200ms) on an empty queue: {} after {}ms",
        outcome.unwrap_err(),
        started.elapsed().as_millis()
    );
    // A bounded put waits for a get in another process.
    queue.put(&"1".into()).unwrap();
    queue.put(&"2".into()).unwrap();
    let mut taker = Process::start(|| {
        std::thread::sleep(Duration::from_millis(300));
        queue.get().unwrap();
    })
    .unwrap();
    let started = Instant::now();
    queue.put(&"3".into()).unwrap();
    println!(
        "a put on a full queue returned after a get elsewhere: {}",
        started.elapsed() >= Duration::from_millis(250)
    );
    taker.join().unwrap();
    // 4 MiB (four times the pipe's capacity) through the pipe, read by
    // another process.
    let big: Queue<Vec<u8>> = Queue::new(1).unwrap();
    let mut reader = Process::start_with_code(|| {
        let item = big.get().unwrap();
        i32::from(!(item.len() == 4 << 20 && item.iter().enumerate().all(|(i, b)| *b == i as u8)))
    })
    .unwrap();
    big.put(&(0..4 << 20).map(|i| i as u8).collect()).unwrap();
    println!("4 MiB item arrived intact: {}", reader.join().unwrap() == 0);
    println!("pipe capacity: {} bytes", queue.pipe_capacity().unwrap());
    queue.close();
    println!("put after close: {}", queue.put(&"x".into()).unwrap_err());
    println!("get after close: {}", queue.get().unwrap_err());
}

fn queue_consumer_killed() {
    let queue: Queue<u32> = Queue::new(1).unwrap();
    queue.put(&1).unwrap();
    // A consumer that dies before taking anything.
    let mut consumer = Process::start(|| std::thread::sleep(Duration::from_secs(30))).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    consumer.kill().unwrap();
    consumer.join().unwrap();
    let started = Instant::now();
    let outcome = queue.put_timeout(&2, Duration::from_millis(300));
    println!(
        "producer blocked in put, consumer killed: {} after {}ms",
        outcome.unwrap_err(),
        started.elapsed().as_millis()
    );
    println!(
        "and the item before is still there: {:?}",
        queue.get_nowait()
    );
}

fn queue_writer_killed_mid_item() {
    let queue: Queue<Vec<u8>> = Queue::new(0).unwrap();
    // The child writes a 4 MiB item into a 1 MiB pipe and is killed halfway.
    let mut writer = Process::start(|| {
        queue.put(&vec![7u8; 4 << 20]).unwrap();
    })
    .unwrap();
    // The count goes up under the write lock, just before the first byte.
    let deadline = Instant::now() + Duration::from_secs(20);
    while queue.qsize() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    writer.kill().unwrap();
    writer.join().unwrap();
    let started = Instant::now();
    let outcome = queue.get_timeout(Duration::from_secs(10));
    println!(
        "get after the writer died mid-item: {} (within 1s: {})",
        outcome.unwrap_err(),
        started.elapsed() < Duration::from_secs(1)
    );
    println!("and after that: {}", queue.put(&vec![1]).unwrap_err());
}

fn pipe_basics() {
    let (mut a, mut b) = Pipe::duplex().unwrap();
    let mut child = Process::start(|| {
        let ping: String = b.recv().unwrap();
        b.send(&format!("{ping} pong")).unwrap();
        b.send_bytes(b"").unwrap();
        for n in 0..3u32 {
            b.send(&n).unwrap();
        }
        b.send_bytes(&vec![0xabu8; 16 << 20]).unwrap();
    })
    .unwrap();
    b.close();
    a.send("ping").unwrap();
    println!("reply: {}", a.recv::<String>().unwrap());
    println!("empty message: {:?}", a.recv_bytes().unwrap());
    println!(
        "three sends, three messages: {:?}",
        (0..3).map(|_| a.recv::<u32>().unwrap()).collect::<Vec<_>>()
    );
    let big = a.recv_bytes().unwrap();
    println!(
        "16 MiB message intact: {}",
        big.len() == 16 << 20 && big.iter().all(|&x| x == 0xab)
    );
    child.join().unwrap();
    println!(
        "poll after the child is gone: {:?}",
        a.poll(Some(Duration::from_millis(100)))
    );
    println!(
        "recv after the child is gone: {}",
        a.recv::<u32>().unwrap_err()
    );
    println!(
        "send after the child is gone: {}",
        a.send(&1u32).unwrap_err()
    );
    a.close();
    println!("recv after close: {}", a.recv::<u32>().unwrap_err());
}

fn pipe_eof() {
    let (mut reader, mut writer) = Pipe::one_way().unwrap();
    writer.send(&1u32).unwrap();
    println!(
        "poll with a message waiting: {:?}",
        reader.poll(Some(Duration::ZERO))
    );
    println!("recv: {:?}", reader.recv::<u32>());
    let started = Instant::now();
    println!(
        "poll(200ms) with nothing sent, writer open: {:?}",
        reader.poll(Some(Duration::from_millis(200)))
    );
    println!(
        "  waited about 200ms: {}",
        started.elapsed() >= Duration::from_millis(190)
    );
    writer.close();
    println!(
        "after the only writer closed, recv: {}",
        reader.recv::<u32>().unwrap_err()
    );
    let (mut reader, mut writer) = Pipe::one_way().unwrap();
    reader.close();
    println!(
        "send with the reader closed: {}",
        matches!(writer.send(&1u32), Err(WireError::BrokenPipe))
    );
}

fn pipe_bad_frames() {
    use std::io::Write;
    // Bytes written straight into the pipe's file descriptor, bypassing the
    // framing, as a buggy or hostile writer would.
    let cases: [(&str, Vec<u8>); 4] = [
        ("truncated frame", vec![0, 0, 0, 10, 1, 2]),
        ("oversize length", vec![0xff, 0xff, 0xff, 0xff]),
        ("garbage payload", vec![0, 0, 0, 2, 0xff, 0xff]),
        ("half a prefix", vec![0, 0]),
    ];
    for (name, bytes) in cases {
        let (mut reader, writer) = Pipe::one_way().unwrap();
        let mut raw = raw_writer(writer);
        raw.write_all(&bytes).unwrap();
        drop(raw);
        println!("{name}: {}", reader.recv::<String>().unwrap_err());
    }
}

fn raw_writer(writer: multiproc::SendEnd) -> std::fs::File {
    writer.into_file().expect("open")
}

fn put_square(args: (QueueProxy<u64>, u64)) {
    let (queue, x) = args;
    queue.put(&(x * x), None).unwrap();
}

fn manager_basics() {
    let manager = Manager::start().unwrap();
    let pid = manager.pid().unwrap();
    let socket = manager.address().to_path_buf();
    let dir = socket.parent().unwrap().to_path_buf();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    println!("directory mode: {mode:o}");
    let d: DictProxy<i64> = manager.dict().unwrap();
    d.set("a", &1).unwrap();
    d.update(&[("b", 2), ("c", 3)]).unwrap();
    println!(
        "get a: {:?}, get z: {:?}",
        d.get("a").unwrap(),
        d.get("z").unwrap()
    );
    println!(
        "contains b: {}, len: {}",
        d.contains("b").unwrap(),
        d.len().unwrap()
    );
    println!("keys: {:?}", d.keys().unwrap());
    println!("items: {:?}", d.items().unwrap());
    println!(
        "pop c: {:?}, delete b: {}, delete b again: {}",
        d.pop("c").unwrap(),
        d.delete("b").unwrap(),
        d.delete("b").unwrap()
    );
    println!(
        "add: {} {}",
        d.add("n", 5).unwrap(),
        d.add("n", -2).unwrap()
    );
    d.clear().unwrap();
    println!("after clear: empty {}", d.is_empty().unwrap());
    let q: QueueProxy<u64> = manager.queue(1).unwrap();
    q.put(&7, None).unwrap();
    println!(
        "put on a full manager queue: {}",
        q.put(&8, Some(Duration::from_millis(100))).unwrap_err()
    );
    println!(
        "get: {:?}, then: {}",
        q.get(None).unwrap(),
        q.get(Some(Duration::from_millis(100))).unwrap_err()
    );
    let lock = manager.lock().unwrap();
    lock.acquire(None).unwrap();
    let other = lock.clone(); // Its own connection: another holder.
    println!(
        "second acquire: {}",
        other.acquire(Some(Duration::from_millis(100))).unwrap_err()
    );
    println!("release by a non-holder: {}", other.release().unwrap_err());
    lock.release().unwrap();
    println!(
        "acquire after release: {:?}",
        other.acquire(Some(Duration::from_millis(100)))
    );
    // A manager queue goes to Pool tasks, as an argument.
    let squares: QueueProxy<u64> = manager.queue(0).unwrap();
    let pool = Pool::new(2).unwrap();
    for x in 0..4 {
        pool.apply_async(put_square, (squares.clone(), x))
            .unwrap()
            .get()
            .unwrap();
    }
    pool.close();
    pool.join().unwrap();
    let mut got: Vec<u64> = (0..4)
        .map(|_| squares.get(Some(Duration::from_secs(5))).unwrap())
        .collect();
    got.sort();
    println!("squares from pool tasks: {got:?}");
    println!("shutdown exitcode: {}", manager.shutdown().unwrap());
    println!(
        "server gone: {}",
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    );
    println!(
        "socket gone: {}, directory gone: {}",
        !socket.exists(),
        !dir.exists()
    );
    println!(
        "a proxy after shutdown: {}",
        matches!(d.get("a"), Err(ManagerError::Gone { .. }))
    );
}

fn manager_bad_clients() {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    let manager = Manager::start().unwrap();
    let d: DictProxy<i64> = manager.dict().unwrap();
    d.set("k", &1).unwrap();
    let attempts: [(&str, Vec<u8>); 3] = [
        ("garbage payload", vec![0, 0, 0, 3, 0xff, 0xff, 0xff]),
        ("unknown method", vec![0, 0, 0, 2, 99, 0]),
        ("oversize length", vec![0xff, 0xff, 0xff, 0xff]),
    ];
    for (name, bytes) in attempts {
        let mut raw = UnixStream::connect(manager.address()).unwrap();
        raw.write_all(&bytes).unwrap();
        raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut answer = Vec::new();
        let _ = raw.read_to_end(&mut answer);
        let said_why = String::from_utf8_lossy(&answer).contains("bad request");
        println!(
            "{name}: connection closed, with an error message: {said_why}; server still serves: {:?}",
            d.get("k")
        );
    }
    // An unknown object id: an error reply, and the connection stays usable.
    let stranger: DictProxy<i64> =
        postcard::from_bytes(&postcard::to_allocvec(&d).unwrap()).unwrap();
    let bytes = postcard::to_allocvec(&d).unwrap();
    let mut forged = bytes.clone();
    *forged.last_mut().unwrap() = 77; // The id is the last field.
    let missing: DictProxy<i64> = postcard::from_bytes(&forged).unwrap();
    println!("unknown object: {}", missing.get("k").unwrap_err());
    println!("a proxy that went through bytes: {:?}", stranger.get("k"));
    drop(manager);
}

fn manager_killed() {
    let manager = Manager::start().unwrap();
    let d: DictProxy<i64> = manager.dict().unwrap();
    let q: QueueProxy<i64> = manager.queue(0).unwrap();
    d.set("k", &1).unwrap();
    // A child blocked in a get with no timeout when the server dies.
    let mut waiter = Process::start_with_code(|| match q.get(None) {
        Err(ManagerError::Gone { .. }) => 0,
        _ => 1,
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(manager.pid().unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let started = Instant::now();
    let outcome = d.get("k");
    println!(
        "call after SIGKILL: {} (within 1s: {})",
        matches!(outcome, Err(ManagerError::Gone { .. })),
        started.elapsed() < Duration::from_secs(1)
    );
    println!(
        "a blocked get saw it too: {}",
        waiter.join_timeout(Duration::from_secs(1)).unwrap() == Some(0)
    );
    println!(
        "error text: {}",
        outcome.unwrap_err().to_string().split(" (").next().unwrap()
    );
    drop(manager); // Reaps the dead server, removes the directory.
}

fn manager_lock_holder_dies() {
    let manager = Manager::start().unwrap();
    let lock = manager.lock().unwrap();
    let mut holder = Process::start(|| {
        lock.acquire(None).unwrap();
        std::thread::sleep(Duration::from_secs(30));
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    println!(
        "while the holder lives: {}",
        lock.acquire(Some(Duration::from_millis(100))).unwrap_err()
    );
    holder.kill().unwrap();
    holder.join().unwrap();
    let started = Instant::now();
    let outcome = lock.acquire(Some(Duration::from_secs(5)));
    println!(
        "after the holder died: {:?} (within 1s: {})",
        outcome,
        started.elapsed() < Duration::from_secs(1)
    );
}

fn manager_other_uid() {
    // Safety: geteuid takes no arguments.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root to become another user");
        return;
    }
    let manager = Manager::start().unwrap();
    let d: DictProxy<i64> = manager.dict().unwrap();
    d.set("secret", &42).unwrap();
    let socket = manager.address().to_path_buf();
    let dir = socket.parent().unwrap().to_path_buf();
    let as_nobody = |label: &'static str| {
        let mut child = Process::start_with_code(|| {
            // Safety: plain calls with integer ids, in a single-threaded child.
            if unsafe { libc::setgid(65534) } != 0 || unsafe { libc::setuid(65534) } != 0 {
                return 3;
            }
            match d.get("secret") {
                Ok(_) => 1,
                Err(e) => {
                    println!("{label}: {}", e.to_string().split(" (").next().unwrap());
                    0
                }
            }
        })
        .unwrap();
        child.join().unwrap()
    };
    println!(
        "as nobody, 0700 directory: refused {}",
        as_nobody("as nobody, 0700 directory") == 0
    );
    // Open the directory and socket to everyone: the uid check still refuses.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o777)).unwrap();
    println!(
        "as nobody, open directory: refused {}",
        as_nobody("as nobody, open directory") == 0
    );
    println!("the owner still gets in: {:?}", d.get("secret"));
}
