//! Exercise 04.2: take what a process put before joining it
//!
//! Lesson 04, section 6 ("Joining a process before taking what it put: a
//! deadlock").
//! The Python the docs warn about:
//!
//!     p = Process(target=put_two_big_items, args=(q,)); p.start()
//!     p.join()                          # waits for p ...
//!     items = [q.get(), q.get()]        # ... which waits for this
//!
//! The child puts two items, each as big as the queue's ring. The ring
//! holds one at most, so the child's `put` waits for a reader. The parent
//! joins the child before reading anything: each waits for the other,
//! forever. Reorder the parent so that everyone finishes.
//!
//! Check: `cargo xtask check 04.2`. Stuck: `cargo xtask hint 04.2`.

use multiproc::{Process, Queue};

fn main() {
    let queue: Queue<Vec<u8>> = Queue::new(0).expect("a queue");
    let item_size = queue.capacity_bytes();
    let mut child = Process::start(|| {
        for byte in [1u8, 2] {
            queue.put(&vec![byte; item_size]).expect("put");
        }
    })
    .expect("start the child");
    println!("the child puts 2 items, each as big as the queue's ring");

    // TODO: the child cannot finish until its items are taken.
    let exitcode = child.join().expect("join the child");
    let items: Vec<Vec<u8>> = (0..2).map(|_| queue.get().expect("get")).collect();

    let whole = items
        .iter()
        .zip([1u8, 2])
        .all(|(item, byte)| item.len() == item_size && item.iter().all(|&b| b == byte));
    println!("took both items, whole and in order: {whole}");
    println!("the child's exitcode: {exitcode}");
}
