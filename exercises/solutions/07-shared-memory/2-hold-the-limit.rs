//! Solution to exercise 07.2: a Semaphore of two seats, made before the
//! fork so every worker shares it; each worker holds a seat's guard while it
//! uses the database.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use multiproc::{Process, Semaphore, Shared};

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
    let seats = Semaphore::new(SEATS).expect("a Semaphore");
    let mut workers: Vec<Process> = (0..WORKERS)
        .map(|_| {
            Process::start(|| {
                let _seat = seats.acquire();
                use_the_database(&door);
            })
            .expect("start a worker")
        })
        .collect();
    for worker in &mut workers {
        worker.join().expect("join");
    }
    let most = door[1].load(Ordering::SeqCst);
    println!("{WORKERS} workers, {SEATS} seats: the most inside at once was {most}");
    println!("never more than the seats: {}", most <= SEATS);
}
