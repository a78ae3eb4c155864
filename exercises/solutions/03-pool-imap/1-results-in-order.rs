//! Solution to exercise 03.1: `get` each handle in the order the tasks were
//! given; each `get` waits for its own task only.

use std::time::Duration;

use multiproc::Pool;

fn nap_then_square(n: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(100 * n));
    n * n
}

fn main() {
    let pool = Pool::new(3).expect("start a pool of 3 workers");
    let given = [3, 1, 2];
    println!("tasks given in this order: {given:?}");
    let handles: Vec<_> = given
        .iter()
        .map(|&n| pool.apply_async(nap_then_square, n).expect("submit"))
        .collect();

    for handle in &handles {
        let square = handle.get().expect("the task's result");
        println!("result: {square}");
    }
}
