//! Queue: exactly once to many consumers, bounds and deadlines, and what a
//! process that dies does to it.

use std::time::{Duration, Instant};

use multiproc::{Process, Queue, QueueError};

use crate::ms_since;

const PRODUCERS: u32 = 4;
const PER_PRODUCER: u32 = 10_000;
const CONSUMERS: u32 = 3;

pub fn every_item_exactly_once_to_many_consumers() {
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
    let (mut total, mut checksum) = (0, 0);
    for _ in 0..CONSUMERS {
        let (_, count, sum, in_order) = report.get_timeout(Duration::from_secs(20)).unwrap();
        total += count;
        checksum += sum;
        assert!(in_order, "each producer's items arrive in order");
    }
    for consumer in &mut consumers {
        assert_eq!(consumer.join().unwrap(), 0);
    }
    let expected: u64 = (0..PRODUCERS)
        .flat_map(|p| (0..PER_PRODUCER).map(move |i| u64::from(p) * 1_000_000 + u64::from(i)))
        .sum();
    assert_eq!(total, u64::from(PRODUCERS * PER_PRODUCER), "received");
    assert_eq!(checksum, expected, "each item exactly once");
    assert_eq!(queue.qsize(), 0, "left in the queue");
}

/// The bytes of producer `p`'s item `i`: a length that varies (every 40th
/// item is longer than one record of the ring) and contents that say whose
/// item it is, so that a byte from another item, or from a part of the ring
/// overwritten too early, shows.
fn wrapping_item(p: u32, i: u32) -> Vec<u8> {
    let len = if i % 40 == 39 {
        70_000 + (i as usize * 7919) % 130_000
    } else {
        (i as usize * 7919 + p as usize * 104_729) % 12_000
    };
    (0..len).map(|k| (k as u32 ^ (p << 5) ^ i) as u8).collect()
}

/// Many times the ring's size passes through it, in items of every size,
/// from two producers to two consumers, bounded and not: every item comes
/// once and whole. (Each side reads the other's position only when its
/// last view of it shows no room or no record: this checks those views.)
pub fn items_stay_whole_as_the_ring_wraps() {
    const ITEMS: u32 = 2000;
    for maxsize in [0, 5] {
        let queue: Queue<Option<(u32, u32, Vec<u8>)>> = Queue::new(maxsize).unwrap();
        let report: Queue<(u64, u64)> = Queue::new(0).unwrap();
        let mut consumers: Vec<Process> = (0..2)
            .map(|_| {
                Process::start(|| {
                    let (mut count, mut checksum) = (0u64, 0u64);
                    while let Some((p, i, bytes)) = queue.get().unwrap() {
                        assert!(
                            bytes == wrapping_item(p, i),
                            "item {i} of producer {p} is whole"
                        );
                        count += 1;
                        checksum += u64::from(p) * 1_000_000 + u64::from(i);
                    }
                    report.put(&(count, checksum)).unwrap();
                })
                .unwrap()
            })
            .collect();
        let to_share = &queue;
        let mut producers: Vec<Process> = (0..2)
            .map(|p| {
                Process::start(move || {
                    for i in 0..ITEMS {
                        to_share.put(&Some((p, i, wrapping_item(p, i)))).unwrap();
                    }
                })
                .unwrap()
            })
            .collect();
        for producer in &mut producers {
            assert_eq!(producer.join().unwrap(), 0);
        }
        for _ in 0..2 {
            queue.put(&None).unwrap();
        }
        let (mut total, mut checksum) = (0, 0);
        for _ in 0..2 {
            let (count, sum) = report.get_timeout(Duration::from_secs(30)).unwrap();
            total += count;
            checksum += sum;
        }
        for consumer in &mut consumers {
            assert_eq!(
                consumer.join().unwrap(),
                0,
                "a consumer found an item cut or mixed"
            );
        }
        let expected: u64 = (0..2u64)
            .flat_map(|p| (0..u64::from(ITEMS)).map(move |i| p * 1_000_000 + i))
            .sum();
        assert_eq!(total, u64::from(2 * ITEMS), "received (maxsize {maxsize})");
        assert_eq!(
            checksum, expected,
            "each item exactly once (maxsize {maxsize})"
        );
        assert_eq!(queue.qsize(), 0, "left in the queue (maxsize {maxsize})");
    }
}

pub fn bounded_with_timeouts_that_hold() {
    let mut queue: Queue<String> = Queue::new(2).unwrap();
    assert!(queue.is_empty() && queue.qsize() == 0);
    queue.put(&"a".into()).unwrap();
    queue.put_nowait(&"b".into()).unwrap();
    assert!(queue.is_full() && queue.qsize() == 2);
    let full = queue.put_nowait(&"c".into()).unwrap_err();
    assert_eq!(full.to_string(), "the queue is full (Python: queue.Full)");
    let started = Instant::now();
    assert!(matches!(
        queue.put_timeout(&"c".into(), Duration::from_millis(200)),
        Err(QueueError::Full)
    ));
    let waited = ms_since(started);
    assert!(
        (190..2000).contains(&waited),
        "put_timeout(200ms) took {waited}ms"
    );
    assert_eq!(queue.get().unwrap(), "a");
    assert_eq!(queue.get_nowait().unwrap(), "b");
    let empty = queue.get_nowait().unwrap_err();
    assert_eq!(
        empty.to_string(),
        "the queue is empty (Python: queue.Empty)"
    );
    let started = Instant::now();
    assert!(matches!(
        queue.get_timeout(Duration::from_millis(200)),
        Err(QueueError::Empty)
    ));
    let waited = ms_since(started);
    assert!(
        (190..2000).contains(&waited),
        "get_timeout(200ms) took {waited}ms"
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
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "a put on a full queue returns only after a get elsewhere"
    );
    assert_eq!(taker.join().unwrap(), 0);
    // 4 MiB (four times the ring's capacity) through the ring, read by
    // another process, which checks every byte.
    let big: Queue<Vec<u8>> = Queue::new(1).unwrap();
    let mut reader = Process::start(|| {
        let item = big.get().unwrap();
        assert_eq!(item.len(), 4 << 20);
        assert!(item.iter().enumerate().all(|(i, b)| *b == i as u8));
    })
    .unwrap();
    big.put(&(0..4 << 20).map(|i| i as u8).collect()).unwrap();
    assert_eq!(reader.join().unwrap(), 0, "4 MiB item arrived intact");
    assert_eq!(queue.capacity_bytes(), 1 << 20);
    queue.close();
    assert!(matches!(queue.put(&"x".into()), Err(QueueError::Closed)));
    assert_eq!(queue.get().unwrap_err().to_string(), "the queue is closed");
}

pub fn a_killed_consumer_does_not_hang_a_put_timeout() {
    let queue: Queue<u32> = Queue::new(1).unwrap();
    queue.put(&1).unwrap();
    // A consumer that dies before taking anything.
    let mut consumer = Process::start(|| std::thread::sleep(Duration::from_secs(30))).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    consumer.kill().unwrap();
    consumer.join().unwrap();
    let started = Instant::now();
    assert!(matches!(
        queue.put_timeout(&2, Duration::from_millis(300)),
        Err(QueueError::Full)
    ));
    let waited = ms_since(started);
    assert!(
        (290..2000).contains(&waited),
        "put_timeout(300ms) took {waited}ms"
    );
    assert_eq!(
        queue.get_nowait().unwrap(),
        1,
        "the item before is still there"
    );
}

/// A producer killed halfway through a long item (4 MiB through a 1 MiB
/// ring) loses that item and nothing else: a consumer that was reading it
/// drops what it read and takes the next item; `qsize` and the queue go on.
pub fn a_writer_killed_mid_item_loses_only_that_item() {
    let queue: Queue<Vec<u8>> = Queue::new(0).unwrap();
    let mut writer = Process::start(|| {
        queue.put(&vec![7u8; 4 << 20]).unwrap();
    })
    .unwrap();
    // Killed once it waits for room in the ring, its first MiB written.
    wait_until_blocked_in(writer.pid(), "futex");
    writer.kill().unwrap();
    writer.join().unwrap();
    assert_eq!(queue.qsize(), 0, "the half-written item was never counted");
    let mut reader = Process::start(|| {
        assert_eq!(
            queue.get().unwrap(),
            vec![1u8, 2, 3],
            "the next item, whole"
        );
    })
    .unwrap();
    queue.put(&vec![1, 2, 3]).unwrap();
    assert_eq!(reader.join().unwrap(), 0);
    queue.put(&vec![4]).unwrap();
    assert_eq!(queue.qsize(), 1);
    assert_eq!(queue.get_nowait().unwrap(), vec![4]);
    assert_eq!(queue.qsize(), 0);
}

/// A tiny deterministic random number generator (xorshift), for kill times.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Consumers and producers killed at random moments of a busy loop, where
/// a kill lands anywhere, right after a system call included: each kill may
/// lose at most the item its process held, and nothing else may change. A
/// `Queue(4)` must still take exactly 4 items, and `qsize` must match what
/// comes out, after every kill.
pub fn a_process_killed_anywhere_loses_at_most_its_item() {
    let queue: Queue<u64> = Queue::new(4).unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let check = |queue: &Queue<u64>, when: &str| {
        let claimed = queue.qsize();
        let mut drained = 0;
        while queue.get_nowait().is_ok() {
            drained += 1;
        }
        assert_eq!(
            claimed, drained,
            "{when}: qsize said {claimed}, {drained} came out"
        );
        let mut held = 0;
        while queue.put_nowait(&1).is_ok() {
            held += 1;
        }
        assert_eq!(held, 4, "{when}: a Queue(4) took {held} items");
        assert_eq!(queue.qsize(), 4, "{when}");
        for _ in 0..4 {
            queue.get_nowait().unwrap();
        }
        assert_eq!(queue.qsize(), 0, "{when}");
    };
    for round in 0..60 {
        // A consumer taking items as fast as a producer (this process) puts.
        let mut consumer = Process::start(|| while queue.get().is_ok() {}).unwrap();
        let until = Instant::now() + Duration::from_micros(500 + next_random(&mut seed) % 3000);
        while Instant::now() < until {
            let _ = queue.put_timeout(&round, Duration::from_millis(1));
        }
        consumer.kill().unwrap();
        consumer.join().unwrap();
        check(&queue, &format!("consumer killed, round {round}"));
        // A producer putting as fast as this process takes.
        let mut producer = Process::start(|| {
            let mut n = 0u64;
            while queue.put(&n).is_ok() {
                n += 1;
            }
        })
        .unwrap();
        let until = Instant::now() + Duration::from_micros(500 + next_random(&mut seed) % 3000);
        while Instant::now() < until {
            let _ = queue.get_timeout(Duration::from_millis(1));
        }
        producer.kill().unwrap();
        producer.join().unwrap();
        check(&queue, &format!("producer killed, round {round}"));
    }
}

/// Waits (at most 20 s) until `pid` sleeps in a kernel function whose name
/// holds `what` (see /proc/PID/wchan).
#[track_caller]
fn wait_until_blocked_in(pid: i32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        if wchan.contains(what) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    panic!("pid {pid} never blocked in {what} (wchan `{wchan}`, stat {stat})");
}

/// A consumer killed while it waits in
/// `get`, or a producer killed while it waits for room, tore nothing: the
/// queue goes on, every item comes out, and `qsize` stays right.
pub fn a_process_killed_while_waiting_breaks_nothing() {
    let queue: Queue<u32> = Queue::new(0).unwrap();
    for i in 0..3 {
        queue.put(&i).unwrap();
    }
    let mut consumer = Process::start(|| {
        for _ in 0..3 {
            queue.get().unwrap();
        }
        let _ = queue.get(); // Waits here, holding the consumer lock, until killed.
    })
    .unwrap();
    wait_until_blocked_in(consumer.pid(), "futex");
    consumer.kill().unwrap();
    consumer.join().unwrap();
    for i in 10..13 {
        queue.put(&i).unwrap();
    }
    assert_eq!(queue.qsize(), 3);
    let got: Vec<u32> = (0..3).map(|_| queue.get_nowait().unwrap()).collect();
    assert_eq!(got, [10, 11, 12], "after a getter died waiting");
    // A producer that waits for room, holding the producer lock, then dies.
    let full: Queue<u32> = Queue::new(0).unwrap();
    let mut put = 0;
    while full.put_nowait(&put).is_ok() {
        put += 1;
    }
    assert_eq!(full.qsize(), put as usize);
    let mut producer = Process::start(|| {
        let _ = full.put(&u32::MAX); // Waits for room until killed.
    })
    .unwrap();
    wait_until_blocked_in(producer.pid(), "futex");
    producer.kill().unwrap();
    producer.join().unwrap();
    assert_eq!(full.qsize(), put as usize, "qsize after the producer died");
    let mut got = 0;
    while let Ok(item) = full.get_nowait() {
        assert_eq!(item, got);
        got += 1;
    }
    assert_eq!(got, put, "every complete item came out");
    full.put_nowait(&7).unwrap();
    assert_eq!(full.get_nowait().unwrap(), 7, "and the queue goes on");
    // Bounded: the place the dead producer had taken is given back.
    let bounded: Queue<u32> = Queue::new(1).unwrap();
    bounded.put(&1).unwrap();
    let mut blocked = Process::start(|| {
        let _ = bounded.put(&2); // Waits for a place until killed.
    })
    .unwrap();
    wait_until_blocked_in(blocked.pid(), "futex");
    blocked.kill().unwrap();
    blocked.join().unwrap();
    assert_eq!(bounded.get_nowait().unwrap(), 1);
    bounded.put_nowait(&3).unwrap();
    assert_eq!(bounded.get_nowait().unwrap(), 3);
}

/// `put_timeout` of an item larger
/// than the pipe's free room returns `Full` by its deadline, with no reader.
pub fn put_timeout_returns_by_its_deadline_whatever_the_size() {
    let queue: Queue<Vec<u8>> = Queue::new(0).unwrap();
    for size in [1 << 20, 4 << 20] {
        let item = vec![0u8; size];
        // Encoding comes first and is not interruptible: it is measured
        // apart, and the wait after it must end by the deadline.
        let started = Instant::now();
        let _ = postcard::to_allocvec(&item).unwrap();
        let encoding = started.elapsed();
        let started = Instant::now();
        let outcome = queue.put_timeout(&item, Duration::from_millis(100));
        assert!(
            matches!(outcome, Err(QueueError::Full)),
            "{size}: {outcome:?}"
        );
        let took = started.elapsed();
        assert!(
            took < encoding * 2 + Duration::from_secs(1),
            "{size} bytes: returned after {took:?} (encoding takes {encoding:?})"
        );
        assert!(matches!(
            queue.put_nowait(&vec![0u8; size]),
            Err(QueueError::Full)
        ));
    }
    assert_eq!(queue.qsize(), 0);
    // Room for small items, then none: the deadline holds there too.
    let mut small = 0;
    while queue
        .put_timeout(&vec![1u8; 100], Duration::from_millis(10))
        .is_ok()
    {
        small += 1;
    }
    assert_eq!(queue.qsize(), small);
    let started = Instant::now();
    assert!(matches!(
        queue.put_timeout(&vec![1u8; 100], Duration::from_millis(100)),
        Err(QueueError::Full)
    ));
    assert!(started.elapsed() < Duration::from_secs(1));
    for _ in 0..small {
        assert_eq!(queue.get_nowait().unwrap(), vec![1u8; 100]);
    }
    assert_eq!(queue.qsize(), 0);
    // With a reader, put streams an item of any size.
    let mut reader = Process::start(|| assert_eq!(queue.get().unwrap().len(), 4 << 20)).unwrap();
    queue.put(&vec![0u8; 4 << 20]).unwrap();
    assert_eq!(reader.join().unwrap(), 0);
}

/// A failed `Queue::new` leaves no mapping behind.
pub fn a_failed_queue_new_leaks_nothing() {
    let maps = || {
        std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .count()
    };
    let before = maps();
    for _ in 0..200 {
        assert!(Queue::<u32>::new(usize::MAX).is_err());
    }
    assert!(maps() <= before + 2, "maps {before} -> {}", maps());
}
