//! Solution to exercise 06.5: the proxy goes to the spawned child as its
//! argument, as bytes; no global is needed.

use multiproc::{DictProxy, Manager, Process};

/// The spawned child's work.
fn record((d, value): (DictProxy<i64>, i64)) {
    d.set("spawned", &value).expect("set");
}

fn main() {
    // Spawned children start here too: init() runs their function instead.
    multiproc::init();
    let manager = Manager::start().expect("start a manager");
    let d: DictProxy<i64> = manager.dict().expect("a manager dict");
    let mut child = Process::spawn(record, (d.clone(), 14)).expect("spawn the child");
    println!(
        "the spawned child's exitcode: {}",
        child.join().expect("join")
    );
    println!("the parent sees: {:?}", d.items().expect("items"));
}
