//! Exercise 04.4: a queue that Pool tasks can be given
//!
//! Lesson 04, sections 7 and 8 ("A Queue cannot be a Pool task's argument";
//! "A Manager().Queue can: its proxy is an address, and addresses are
//! bytes").
//! The tutorial's Python:
//!
//!     q = Manager().Queue()                # a plain Queue() raises RuntimeError here
//!     for x in range(4):
//!         pool.apply_async(put_square, (q, x))
//!
//! Four Pool tasks each put the square of their number into a queue the
//! parent reads. This does not compile: a task's argument is sent to a
//! worker as bytes, and a `Queue` cannot become bytes (its pipe and shared
//! memory belong to the processes that inherited them). Read the compiler's
//! message, then give the tasks a queue that can travel.
//!
//! Check: `cargo xtask check 04.4`. Stuck: `cargo xtask hint 04.4`.

use std::time::Duration;

use multiproc::{Pool, Queue};

/// A Pool task: put the square of `x` into the queue it was given.
fn put_square(args: (Queue<u64>, u64)) {
    let (squares, x) = args;
    squares.put(&(x * x)).expect("put");
}

fn main() {
    // TODO: a queue whose handle can be a Pool task's argument.
    let squares: Queue<u64> = Queue::new(0).expect("a queue");
    let pool = Pool::new(2).expect("start the pool");
    let tasks: Vec<_> = (0..4u64)
        .map(|x| {
            pool.apply_async(put_square, (squares.clone(), x))
                .expect("submit")
        })
        .collect();
    for task in &tasks {
        task.get().expect("a task failed");
    }
    pool.close();
    pool.join().expect("join the pool");
    let mut got: Vec<u64> = (0..4)
        .map(|_| squares.get_timeout(Duration::from_secs(5)).expect("get"))
        .collect();
    got.sort();
    println!("the parent got: {got:?}");
}
