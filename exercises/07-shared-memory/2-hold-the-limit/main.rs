//! Exercise 07.2: at most two workers inside at once
//!
//! Lesson 07, section 6 ("A Semaphore(2) over 5 workers, then a Barrier that
//! lets 4 go together").
//! Python:
//!
//!     seats = Semaphore(2)
//!     def worker(seats):
//!         with seats:
//!             use_the_database()          # at most two at a time
//!
//! Four workers each use a database for 50 ms, and the database takes at most
//! two clients at a time. Today all four go in at once. Let no more than two
//! in at any moment, and no one wait while a seat is free.
//!
//! Check: `cargo xtask check 07.2`. Stuck: `cargo xtask hint 07.2`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use multiproc::{Process, Shared};

const WORKERS: usize = 4;
const SEATS: u32 = 2;

/// Who is inside now (`[0]`), and the most inside at once (`[1]`), in memory
/// every worker shares.
type Door = Shared<[AtomicU32; 2]>;

fn use_the_database(door: &Door) {
    let now = door[0].fetch_add(1, Ordering::SeqCst) + 1;
    door[1].fetch_max(now, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(50));
    door[0].fetch_sub(1, Ordering::SeqCst);
}

fn main() {
    let door: Door = Shared::new([AtomicU32::new(0), AtomicU32::new(0)]).expect("shared counts");
    // TODO: let at most SEATS workers into use_the_database at once.
    let mut workers: Vec<Process> = (0..WORKERS)
        .map(|_| Process::start(|| use_the_database(&door)).expect("start a worker"))
        .collect();
    for worker in &mut workers {
        worker.join().expect("join");
    }
    let most = door[1].load(Ordering::SeqCst);
    println!("{WORKERS} workers, {SEATS} seats: the most inside at once was {most}");
    println!("never more than the seats: {}", most <= SEATS);
}
