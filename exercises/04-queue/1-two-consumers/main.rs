//! Exercise 04.1: two consumers, a stop sentinel each, every item once
//!
//! Lesson 04, sections 3 and 5 (the tutorial's producer and consumer on
//! `Queue(3)`; many producers and consumers).
//! The tutorial's Python:
//!
//!     q = Queue(3)
//!     for _ in range(2): Process(target=consumer, args=(q, results)).start()
//!     for item in range(1, 11): q.put(item)
//!     q.put(None)                       # "no more items"
//!
//! The parent produces ten items into a queue that holds three; two
//! consumers add up what they take and report their sums. Each item must be
//! taken exactly once, and every process must end. As it stands, the run
//! never ends.
//!
//! Check: `cargo xtask check 04.1`. Stuck: `cargo xtask hint 04.1`.

use std::time::Duration;

use exercises::work_for;
use multiproc::{Process, Queue};

const CONSUMERS: usize = 2;

/// Takes items until the stop sentinel (`None`), then reports how many it
/// took and their sum.
fn consume(items: &Queue<Option<u64>>, reports: &Queue<(u64, u64)>) {
    let (mut count, mut sum) = (0, 0);
    while let Some(item) = items.get().expect("get an item") {
        count += 1;
        sum += item;
    }
    reports.put(&(count, sum)).expect("report");
}

fn main() {
    let items: Queue<Option<u64>> = Queue::new(3).expect("a queue of 3");
    let reports: Queue<(u64, u64)> = Queue::new(0).expect("a queue for reports");
    let mut consumers: Vec<Process> = (0..CONSUMERS)
        .map(|_| Process::start(|| consume(&items, &reports)).expect("start a consumer"))
        .collect();

    for item in 1..=10 {
        work_for(Duration::from_millis(3)); // making an item takes some work
        items.put(&Some(item)).expect("put an item");
    }
    // TODO: every consumer must learn that no more items will come.
    items.put(&None).expect("put the stop sentinel");

    let (mut count, mut sum) = (0, 0);
    for _ in 0..CONSUMERS {
        let (c, s) = reports.get().expect("a consumer's report");
        count += c;
        sum += s;
    }
    for consumer in &mut consumers {
        consumer.join().expect("join a consumer");
    }
    println!("the consumers took {count} items, which add up to {sum}");
    println!(
        "each of the 10 items exactly once: {}",
        count == 10 && sum == 55
    );
}
