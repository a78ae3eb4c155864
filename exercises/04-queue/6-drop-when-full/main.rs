//! Exercise 04.6: drop a reading when the queue is full
//!
//! Lesson 04, section 4 ("Queue(3) holds 3 items: the 4th put waits for a
//! get").
//! Python:
//!
//!     try:
//!         q.put_nowait(reading)
//!     except queue.Full:
//!         dropped += 1                     # never block the sensor
//!
//! A sensor loop takes 10 readings and puts each into a Queue(3); nobody
//! reads the queue until the loop is done. The 4th `put` waits for room
//! that never comes: the program hangs. A sensor must not block: keep what
//! fits, count what does not, and go on.
//!
//! Check: `cargo xtask check 04.6`. Stuck: `cargo xtask hint 04.6`.

use multiproc::Queue;

fn main() {
    let readings: Queue<u32> = Queue::new(3).expect("a Queue(3)");
    let (mut kept, dropped) = (0, 0);
    for reading in 0..10 {
        // TODO: a put that does not wait; count what does not fit.
        readings.put(&reading).expect("put");
        kept += 1;
    }
    println!("kept {kept}, dropped {dropped}");
    let held: Vec<u32> = (0..kept).map(|_| readings.get().expect("get")).collect();
    println!("the queue held: {held:?}");
}
