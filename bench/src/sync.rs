//! The figures of multiproc::sync: an uncontended Lock against a raw futex
//! mutex, and two processes adding to one shared counter.

use std::time::Instant;

use multiproc::Process;

use crate::per;

/// `count` uncontended acquire-and-release pairs of a process-shared Lock.
pub fn lock_ours(count: u64) -> f64 {
    let lock = multiproc::Lock::new().unwrap();
    let start = Instant::now();
    for _ in 0..count {
        drop(std::hint::black_box(lock.acquire().unwrap()));
    }
    per(start.elapsed(), count)
}

/// A futex mutex in `MAP_SHARED` memory, the floor for a process-shared
/// lock: 0 free, 1 held, 2 held with sleepers (Drepper's "Futexes are
/// tricky", mutex 2). Uncontended, each pair is two atomic operations.
struct RawFutexLock {
    word: &'static std::sync::atomic::AtomicU32,
}

impl RawFutexLock {
    fn new() -> RawFutexLock {
        RawFutexLock {
            word: shared_atomic::<std::sync::atomic::AtomicU32>(),
        }
    }

    fn lock(&self) {
        use std::sync::atomic::Ordering::{Acquire, Relaxed};
        if self.word.compare_exchange(0, 1, Acquire, Relaxed).is_ok() {
            return;
        }
        while self.word.swap(2, Acquire) != 0 {
            // Safety: futex(2) on a word of a live shared mapping; the other
            // arguments are plain integers and a null timeout.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.word.as_ptr(),
                    libc::FUTEX_WAIT,
                    2,
                    std::ptr::null::<libc::timespec>(),
                )
            };
        }
    }

    fn unlock(&self) {
        if self.word.swap(0, std::sync::atomic::Ordering::Release) == 2 {
            // Safety: as in `lock`: wake one sleeper on the word.
            unsafe { libc::syscall(libc::SYS_futex, self.word.as_ptr(), libc::FUTEX_WAKE, 1) };
        }
    }
}

/// A zeroed `T` (an atomic) in a fresh `MAP_SHARED` mapping, kept for the
/// life of the bench process (it runs one figure and exits).
pub fn shared_atomic<T>() -> &'static T {
    // Safety: asks for a fresh anonymous mapping; the result is checked.
    let memory = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            std::mem::size_of::<T>().max(64),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(memory, libc::MAP_FAILED, "mmap");
    // Safety: the mapping is zeroed, aligned to a page, large enough, and
    // never unmapped; zero bytes are a valid atomic holding 0.
    unsafe { &*memory.cast::<T>() }
}

pub fn lock_raw(count: u64) -> f64 {
    let lock = RawFutexLock::new();
    let start = Instant::now();
    for _ in 0..count {
        lock.lock();
        lock.unlock();
    }
    per(start.elapsed(), count)
}

/// Two processes add 1 to one shared counter, `count / 2` times each:
/// seconds per increment, from before the fork to after both joins.
fn two_processes_add(count: u64, add: impl Fn()) -> f64 {
    let start = Instant::now();
    let mut children: Vec<Process> = (0..2)
        .map(|_| {
            Process::start(|| {
                for _ in 0..count / 2 {
                    add();
                }
            })
            .unwrap()
        })
        .collect();
    for child in &mut children {
        assert_eq!(child.join().unwrap(), 0);
    }
    per(start.elapsed(), count)
}

pub fn increments_ours(count: u64) -> f64 {
    let value = multiproc::Value::new(0_u64).unwrap();
    let took = two_processes_add(count, || *value.get_lock().unwrap() += 1);
    assert_eq!(value.get().unwrap(), count / 2 * 2);
    took
}

pub fn increments_raw(count: u64) -> f64 {
    let counter = shared_atomic::<std::sync::atomic::AtomicU64>();
    let took = two_processes_add(count, || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(
        counter.load(std::sync::atomic::Ordering::Relaxed),
        count / 2 * 2
    );
    took
}
