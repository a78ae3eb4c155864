//! Solution to exercise 07.7: `Point` is promised `Plain`, with the reason;
//! the compiler then lets a `Value` hold it.

use multiproc::{Plain, Process, Value};

#[derive(Clone, Copy, Debug)]
struct Point {
    x: i64,
    y: i64,
}

// Safety: a Point is two i64s: no pointer, reference or handle at any
// depth, so its bytes mean the same in every process that maps them.
unsafe impl Plain for Point {}

fn main() {
    let point = Value::new(Point { x: 0, y: 0 }).expect("a Value");
    let mut child = Process::start(|| {
        let mut p = point.get_lock().expect("lock");
        p.x += 3;
        p.y -= 4;
    })
    .expect("start the child");
    child.join().expect("join");
    println!("the point is at {:?}", point.get().expect("get"));
}
