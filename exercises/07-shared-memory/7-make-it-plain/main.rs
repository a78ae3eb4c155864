//! Exercise 07.7: say that your type may be shared
//!
//! Lesson 07, section 8 ("What cannot go into shared memory, and why").
//! Python: `Value(Point, ...)` with a `ctypes.Structure` of two `c_long`s.
//!
//! A child moves a point in shared memory and the parent prints where it
//! is. This does not compile: `Value` takes only types that are `Plain`,
//! data with no pointer in it, and the compiler cannot see that of a struct
//! of yours. `Point` is two numbers: promise it, and make the program
//! compile and run. (Do not give `Point` a `String` name while you are at
//! it: read why in the hint.)
//!
//! Check: `cargo xtask check 07.7`. Stuck: `cargo xtask hint 07.7`.

use multiproc::{Process, Value};

#[derive(Clone, Copy, Debug)]
struct Point {
    x: i64,
    y: i64,
}

// TODO: tell the compiler that a Point may live in shared memory.

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
