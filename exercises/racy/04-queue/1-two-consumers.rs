//! A wrong fix of exercise 04.1, kept to test the check's stress runs: the
//! consumers stop when no item came for 100 ms, instead of at a sentinel.
//! On an idle machine the producer is never that slow, and a single run
//! passes; when it gets a small share of a CPU, the consumers give up
//! early and the producer blocks on a full queue forever.

use std::time::Duration;

use exercises::work_for;
use multiproc::{Process, Queue};

const CONSUMERS: usize = 2;

fn consume(items: &Queue<Option<u64>>, reports: &Queue<(u64, u64)>) {
    let (mut count, mut sum) = (0, 0);
    // "Nothing for 100 ms: the producer must be done."
    while let Ok(Some(item)) = items.get_timeout(Duration::from_millis(100)) {
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
