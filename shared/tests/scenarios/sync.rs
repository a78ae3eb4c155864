//! Locks, semaphores, events, barriers, values and shared memory between
//! processes: what each promises, with processes killed at chosen points.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use multiproc::{
    Array, Barrier, BarrierError, Event, Lock, LockError, Process, RLock, Semaphore, Shared,
    SharedMemory, Value,
};

fn join_all(children: &mut [Process]) {
    for child in children {
        assert_eq!(child.join().unwrap(), 0, "a child failed");
    }
}

/// A holder killed while it holds a lock: the next acquire is told and
/// holds the lock, which then works on; a timed acquire against a live
/// holder returns by its deadline; a second acquire by the holder is
/// refused instead of hanging.
pub fn a_lock_whose_holder_dies_is_taken_over() {
    let lock = Lock::new().unwrap();
    let taken = Event::new().unwrap();
    let mut holder = Process::start(|| {
        let _held = lock.acquire().unwrap();
        taken.set();
        std::thread::sleep(Duration::from_secs(30));
    })
    .unwrap();
    assert!(taken.wait_timeout(Duration::from_secs(5)));
    let started = Instant::now();
    assert!(matches!(
        lock.acquire_timeout(Duration::from_millis(200)),
        Err(LockError::TimedOut)
    ));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    holder.kill().unwrap();
    holder.join().unwrap();
    let guard = match lock.acquire_timeout(Duration::from_secs(5)) {
        Err(LockError::HolderDied(guard)) => guard,
        other => panic!("expected HolderDied, got {other:?}"),
    };
    assert!(matches!(lock.acquire(), Err(LockError::AlreadyHeld)));
    drop(guard);
    drop(lock.acquire().expect("the lock works after recovery"));
    // Another process takes it normally now.
    let mut next = Process::start_with_code(|| i32::from(lock.acquire().is_err())).unwrap();
    assert_eq!(next.join().unwrap(), 0);
    let rlock = RLock::new().unwrap();
    let outer = rlock.acquire().unwrap();
    let inner = rlock.acquire().unwrap();
    let mut other =
        Process::start_with_code(|| i32::from(rlock.acquire_timeout(Duration::ZERO).is_ok()))
            .unwrap();
    assert_eq!(other.join().unwrap(), 0, "held twice here, so busy there");
    drop((inner, outer));
    let mut free = Process::start_with_code(|| i32::from(rlock.acquire().is_err())).unwrap();
    assert_eq!(free.join().unwrap(), 0);
}

const INCREMENTS: u64 = 10_000;

/// Four processes add 1 to a Value 10 000 times each: under its lock, and
/// with an atomic in shared memory, the total is exact; get then set loses
/// updates (the count is below, never above).
pub fn values_count_exactly_under_their_lock() {
    let racy = Value::new(0_u64).unwrap();
    let locked = Value::new(0_u64).unwrap();
    let atomic = Shared::new(AtomicU64::new(0)).unwrap();
    let mut children: Vec<Process> = (0..4)
        .map(|_| {
            Process::start(|| {
                for _ in 0..INCREMENTS {
                    let n = racy.get().unwrap();
                    racy.set(n + 1).unwrap();
                    *locked.get_lock().unwrap() += 1;
                    atomic.fetch_add(1, Ordering::Relaxed);
                }
            })
            .unwrap()
        })
        .collect();
    join_all(&mut children);
    assert_eq!(locked.get().unwrap(), 4 * INCREMENTS);
    assert_eq!(atomic.load(Ordering::Relaxed), 4 * INCREMENTS);
    assert!(racy.get().unwrap() <= 4 * INCREMENTS);
    // An Array: each child writes its own slice; all of it is seen after.
    let squares = Array::new(&[0_u64; 8]).unwrap();
    let mut writers: Vec<Process> = (0..2)
        .map(|half| {
            let squares = &squares;
            Process::start(move || {
                for i in half * 4..half * 4 + 4 {
                    squares.set(i, (i * i) as u64).unwrap();
                }
            })
            .unwrap()
        })
        .collect();
    join_all(&mut writers);
    assert_eq!(squares.to_vec().unwrap(), [0, 1, 4, 9, 16, 25, 36, 49]);
}

/// A Semaphore(2) over five processes: never more than 2 inside at once,
/// and 2 at some point; a bounded one refuses a release past its bound; a
/// timed acquire returns by its deadline.
pub fn a_semaphore_holds_its_limit() {
    let seats = Semaphore::new(2).unwrap();
    let inside = Shared::new(AtomicU32::new(0)).unwrap();
    let most = Shared::new(AtomicU32::new(0)).unwrap();
    let mut children: Vec<Process> = (0..5)
        .map(|_| {
            Process::start(|| {
                for _ in 0..20 {
                    let _seat = seats.acquire();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(1));
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
            })
            .unwrap()
        })
        .collect();
    join_all(&mut children);
    assert_eq!(most.load(Ordering::SeqCst), 2);
    assert_eq!(seats.get_value(), 2);
    let bounded = Semaphore::bounded(1).unwrap();
    assert!(bounded.release().is_err(), "released past its bound");
    let permit = bounded.acquire();
    let started = Instant::now();
    assert!(
        bounded
            .acquire_timeout(Duration::from_millis(150))
            .is_none()
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
    permit.keep();
    bounded.release().unwrap();
    assert_eq!(bounded.get_value(), 1);
}

/// An Event releases every waiter, in other processes; a timed wait on a
/// clear event returns false by its deadline.
pub fn an_event_releases_every_waiter() {
    let go = Event::new().unwrap();
    let mut waiters: Vec<Process> = (0..3)
        .map(|_| {
            Process::start_with_code(|| i32::from(!go.wait_timeout(Duration::from_secs(10))))
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    assert!(!go.is_set());
    go.set();
    for waiter in &mut waiters {
        assert_eq!(waiter.join().unwrap(), 0);
    }
    go.clear();
    let started = Instant::now();
    assert!(!go.wait_timeout(Duration::from_millis(150)));
    assert!(started.elapsed() >= Duration::from_millis(150));
}

/// A Barrier of 3 lets its parties go together, round after round, and
/// gives each a different place; one that never comes breaks it at the
/// others' deadline, for all of them.
pub fn a_barrier_lets_its_parties_go_together() {
    let barrier = Barrier::new(3).unwrap();
    let places = Shared::new([AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)]).unwrap();
    let mut parties: Vec<Process> = (0..2)
        .map(|_| {
            Process::start(|| {
                for _ in 0..50 {
                    let place = barrier.wait(Duration::from_secs(10)).unwrap();
                    places[place as usize].fetch_add(1, Ordering::Relaxed);
                }
            })
            .unwrap()
        })
        .collect();
    for _ in 0..50 {
        let place = barrier.wait(Duration::from_secs(10)).unwrap();
        places[place as usize].fetch_add(1, Ordering::Relaxed);
    }
    join_all(&mut parties);
    let counts: Vec<u32> = places.iter().map(|p| p.load(Ordering::Relaxed)).collect();
    assert_eq!(counts.iter().sum::<u32>(), 150, "{counts:?}");
    assert!(
        counts.iter().all(|&c| c > 0),
        "every place was taken: {counts:?}"
    );
    // Only two of three come: both are told, by their deadline.
    let mut waiting = Process::start_with_code(|| {
        i32::from(barrier.wait(Duration::from_secs(10)) != Err(BarrierError::Broken))
    })
    .unwrap();
    let started = Instant::now();
    assert_eq!(
        barrier.wait(Duration::from_millis(300)),
        Err(BarrierError::Broken)
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(waiting.join().unwrap(), 0, "the other party was told too");
    assert!(barrier.broken());
    barrier.reset();
    assert!(!barrier.broken());
}

fn read_hello(name: String) {
    let memory = SharedMemory::attach(&name).unwrap();
    let mut got = [0u8; 5];
    memory.read(0, &mut got);
    assert_eq!(&got, b"hello");
    memory.write(5, b"back!");
}

/// A spawned program, which inherits no memory, attaches by name, reads
/// what the parent wrote, and writes back; once the creator drops it, the
/// name attaches to nothing; a wrong token is refused; nothing is ever in
/// /dev/shm.
pub fn shared_memory_is_found_by_name() {
    let before = shm_files();
    let memory = SharedMemory::create(64).unwrap();
    memory.write(0, b"hello");
    let mut child = Process::spawn(read_hello, memory.name().to_owned()).unwrap();
    assert_eq!(child.join().unwrap(), 0);
    let mut back = [0u8; 5];
    memory.read(5, &mut back);
    assert_eq!(&back, b"back!");
    assert_eq!(shm_files(), before, "nothing in /dev/shm");
    let (path, _) = memory.name().rsplit_once('#').unwrap();
    let forged = format!("{path}#{}", "0".repeat(32));
    let refused = SharedMemory::attach(&forged).unwrap_err().to_string();
    assert!(refused.contains("names another block"), "{refused}");
    let name = memory.name().to_owned();
    drop(memory);
    let gone = SharedMemory::attach(&name).unwrap_err().to_string();
    assert!(gone.contains("has dropped it or ended"), "{gone}");
}

fn shm_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/dev/shm")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
