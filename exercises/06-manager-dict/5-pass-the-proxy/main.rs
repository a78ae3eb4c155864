//! Exercise 06.5: pass the proxy, do not count on a global
//!
//! Lesson 06, section 2 ("The tutorial's putb ignores its argument, and
//! works anyway (with fork)").
//! The tutorial's Python:
//!
//!     def putb(q, k, v):                   # q is unused: the global d is
//!         d[k] = v                         # written, found only under fork
//!
//! A child started with the spawn method runs this program afresh: the
//! global proxy that `main` set is not set there, and `record` finds
//! nothing. Give the child the proxy itself, as its argument: a proxy is an
//! address and an id, and those travel as bytes.
//!
//! Check: `cargo xtask check 06.5`. Stuck: `cargo xtask hint 06.5`.

use std::sync::OnceLock;

use multiproc::{DictProxy, Manager, Process};

/// The tutorial's module-level `d`.
static GLOBAL_D: OnceLock<DictProxy<i64>> = OnceLock::new();

/// The spawned child's work.
fn record(value: i64) {
    // TODO: take the dict as the argument, not from the global.
    let d = GLOBAL_D
        .get()
        .expect("GLOBAL_D is not set in a spawned child");
    d.set("spawned", &value).expect("set");
}

fn main() {
    // Spawned children start here too: init() runs their function instead.
    multiproc::init();
    let manager = Manager::start().expect("start a manager");
    let d: DictProxy<i64> = manager.dict().expect("a manager dict");
    let _ = GLOBAL_D.set(d.clone());
    let mut child = Process::spawn(record, 14).expect("spawn the child");
    println!(
        "the spawned child's exitcode: {}",
        child.join().expect("join")
    );
    println!("the parent sees: {:?}", d.items().expect("items"));
}
