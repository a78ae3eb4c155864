//! Solution to exercise 04.2: get both items, then join: the child's `put`
//! finds a reader, so the child can finish.

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

    let items: Vec<Vec<u8>> = (0..2).map(|_| queue.get().expect("get")).collect();
    let exitcode = child.join().expect("join the child");

    let whole = items
        .iter()
        .zip([1u8, 2])
        .all(|(item, byte)| item.len() == item_size && item.iter().all(|&b| b == byte));
    println!("took both items, whole and in order: {whole}");
    println!("the child's exitcode: {exitcode}");
}
