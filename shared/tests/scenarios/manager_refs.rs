//! Manager objects live as long as a proxy of them does, in any process,
//! and no longer: proxies copied by fork, by `clone`, and sent inside a
//! message keep their object; the last one dropped, or its process killed,
//! frees it.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use multiproc::{DictProxy, Manager, Pool, Process, Queue, QueueProxy};

/// Waits until the server holds `n` objects: references of a process that
/// ended go when the server notices (its connection closes, or its pidfd
/// says so), a moment later.
fn expect_objects(manager: &Manager, n: usize, why: &str) {
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        let now = manager.number_of_objects().unwrap();
        if now == n {
            return;
        }
        assert!(
            Instant::now() < give_up,
            "{why}: the server holds {now} objects, not {n}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The server's resident memory, in KiB.
fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

pub fn dropped_objects_are_freed() {
    let manager = Manager::start().unwrap();
    let server = manager.pid().unwrap();
    let value = "x".repeat(4096);
    // Each round: a dict and a queue holding 4 KiB each, and every fourth
    // round a lock, held when it is dropped.
    let churn = |rounds: usize| {
        for i in 0..rounds {
            let d: DictProxy<String> = manager.dict().unwrap();
            d.set("v", &value).unwrap();
            let q: QueueProxy<String> = manager.queue(0).unwrap();
            q.put(&value, None).unwrap();
            if i % 4 == 0 {
                manager.lock().unwrap().acquire(None).unwrap();
            }
        }
    };
    churn(200);
    let before = rss_kib(server);
    churn(4000);
    let after = rss_kib(server);
    eprintln!("server RSS: {before} KiB, then {after} KiB after 9000 more objects");
    // Kept, the 8000 dicts and queues of 4 KiB would be over 32 MB.
    assert!(
        after < before + 8 * 1024,
        "the server grew from {before} KiB to {after} KiB over 9000 dropped objects"
    );
    expect_objects(&manager, 0, "every proxy was dropped");
}

pub fn a_clone_keeps_its_object() {
    let manager = Manager::start().unwrap();
    let d: DictProxy<i64> = manager.dict().unwrap();
    d.set("k", &1).unwrap();
    let copy = d.clone();
    drop(d);
    expect_objects(&manager, 1, "a clone is left");
    assert_eq!(copy.add("k", 1).unwrap(), 2, "the clone sees the same dict");
    let second = copy.clone();
    drop(copy);
    assert_eq!(second.get("k").unwrap(), Some(2));
    drop(second);
    expect_objects(&manager, 0, "the last clone was dropped");
}

/// The value a process read from its copy of the dict, sent up a pipe with
/// its pid.
fn report(mut pipe: std::io::PipeWriter, d: &DictProxy<i64>) {
    let value = d.get("k").unwrap().unwrap_or(-1);
    let mut bytes = i64::from(std::process::id()).to_le_bytes().to_vec();
    bytes.extend(value.to_le_bytes());
    pipe.write_all(&bytes).unwrap();
}

pub fn a_forked_copy_keeps_its_object() {
    // The grandchild, orphaned, is reaped here.
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let manager = Manager::start().unwrap();
    let d: DictProxy<i64> = manager.dict().unwrap();
    d.set("k", &7).unwrap();
    // A child that uses its copy after the parent dropped its own, and a
    // grandchild that uses its copy after the child has ended too.
    let (mut go_r, mut go_w) = std::io::pipe().unwrap();
    let (mut answers_r, answers_w) = std::io::pipe().unwrap();
    let mut child = Process::start(|| {
        let mut byte = [0u8];
        go_r.read_exact(&mut byte).unwrap();
        report(answers_w.try_clone().unwrap(), &d);
        let grandchild = Process::start(|| {
            std::thread::sleep(Duration::from_millis(300));
            report(answers_w, &d);
        })
        .unwrap();
        // Left running on purpose: it outlives this process.
        std::mem::forget(grandchild);
    })
    .unwrap();
    // (The parent's write end of `answers` went with the closure.)
    drop(d);
    expect_objects(&manager, 1, "the child's copy is left");
    go_w.write_all(b"!").unwrap();
    assert_eq!(child.join().unwrap(), 0);
    let mut answers = Vec::new();
    answers_r.read_to_end(&mut answers).unwrap();
    let words: Vec<i64> = answers
        .chunks(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let [_, from_child, grandchild, from_grandchild] = words[..] else {
        panic!("two reports, not {words:?}");
    };
    let grandchild = nix::unistd::Pid::from_raw(grandchild as i32);
    nix::sys::wait::waitpid(grandchild, None).unwrap();
    assert_eq!(
        (from_child, from_grandchild),
        (7, 7),
        "the child and the grandchild read the dict"
    );
    expect_objects(&manager, 0, "every process with a copy has ended");
}

fn add_one(d: DictProxy<i64>) -> i64 {
    d.add("k", 1).unwrap()
}

pub fn a_proxy_in_a_message_keeps_its_object() {
    let manager = Manager::start().unwrap();
    // Through a queue to a process that was forked before the dict existed
    // (so it has no copy by fork), the sender's proxy dropped at once.
    let queue: Queue<DictProxy<i64>> = Queue::new(0).unwrap();
    let mut consumer = Process::start(|| {
        std::thread::sleep(Duration::from_millis(200));
        let d = queue.get().unwrap();
        assert_eq!(d.add("k", 1).unwrap(), 1);
    })
    .unwrap();
    let d: DictProxy<i64> = manager.dict().unwrap();
    queue.put(&d).unwrap();
    drop(d);
    expect_objects(&manager, 1, "the proxy in the queue is left");
    assert_eq!(consumer.join().unwrap(), 0);
    expect_objects(&manager, 0, "the consumer dropped the proxy it got");

    // Inside a manager queue's item, read back in this process.
    let inner: DictProxy<i64> = manager.dict().unwrap();
    let outer: QueueProxy<DictProxy<i64>> = manager.queue(0).unwrap();
    outer.put(&inner, None).unwrap();
    drop(inner);
    expect_objects(&manager, 2, "the dict inside the queue is left");
    let back = outer.get(None).unwrap();
    assert_eq!(back.add("k", 5).unwrap(), 5);
    drop(back);
    expect_objects(&manager, 1, "only the queue is left");
    drop(outer);
    expect_objects(&manager, 0, "nothing is left");

    // As the arguments of pool tasks, in workers forked before the dict.
    let pool = Pool::new(2).unwrap();
    let d: DictProxy<i64> = manager.dict().unwrap();
    let mut totals = pool.map(add_one, vec![d.clone(); 8], 1).unwrap();
    totals.sort_unstable();
    assert_eq!(totals, (1..=8).collect::<Vec<_>>());
    drop(d);
    expect_objects(&manager, 0, "the workers dropped their copies");
    pool.close();
    pool.join().unwrap();
}

pub fn a_killed_holder_lets_go() {
    let manager = Manager::start().unwrap();
    let (mut ready_r, mut ready_w) = std::io::pipe().unwrap();
    let mut holder = Process::start(|| {
        let kept: Vec<DictProxy<i64>> = (0..50).map(|_| manager.dict().unwrap()).collect();
        // Lent to a message nobody reads: the lender's to hold.
        let _bytes = postcard::to_allocvec(&kept[0]).unwrap();
        ready_w.write_all(b"!").unwrap();
        std::thread::sleep(Duration::from_secs(60));
        drop(kept);
    })
    .unwrap();
    let mut byte = [0u8];
    ready_r.read_exact(&mut byte).unwrap();
    expect_objects(&manager, 50, "the holder's dicts");
    holder.kill().unwrap();
    assert_eq!(holder.join().unwrap(), -9);
    expect_objects(&manager, 0, "the killed holder's references went with it");
}
