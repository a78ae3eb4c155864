//! Solution to exercise 04.1: one stop sentinel per consumer, put after the
//! last item.

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
    for _ in 0..CONSUMERS {
        items.put(&None).expect("put a stop sentinel");
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
