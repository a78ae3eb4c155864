//! Solution to exercise 04.4: a manager's queue, whose proxy is an address
//! and an id, goes to the workers as bytes.

use std::time::Duration;

use multiproc::{Manager, Pool, QueueProxy};

/// A Pool task: put the square of `x` into the manager queue it was given.
fn put_square(args: (QueueProxy<u64>, u64)) {
    let (squares, x) = args;
    squares.put(&(x * x), None).expect("put");
}

fn main() {
    let manager = Manager::start().expect("start a manager");
    let squares: QueueProxy<u64> = manager.queue(0).expect("a manager queue");
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
        .map(|_| squares.get(Some(Duration::from_secs(5))).expect("get"))
        .collect();
    got.sort();
    println!("the parent got: {got:?}");
}
