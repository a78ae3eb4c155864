//! Solution to exercise 04.6: `put_nowait` returns `Full` at once instead of
//! waiting for room.

use multiproc::{Queue, QueueError};

fn main() {
    let readings: Queue<u32> = Queue::new(3).expect("a Queue(3)");
    let (mut kept, mut dropped) = (0, 0);
    for reading in 0..10 {
        match readings.put_nowait(&reading) {
            Ok(()) => kept += 1,
            Err(QueueError::Full) => dropped += 1,
            Err(other) => panic!("put: {other}"),
        }
    }
    println!("kept {kept}, dropped {dropped}");
    let held: Vec<u32> = (0..kept).map(|_| readings.get().expect("get")).collect();
    println!("the queue held: {held:?}");
}
