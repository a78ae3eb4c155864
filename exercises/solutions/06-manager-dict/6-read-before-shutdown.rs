//! Solution to exercise 06.6: the dict is read into this process before the
//! server is shut down; after it, a proxy fails.

use multiproc::{DictProxy, Manager, Process};

fn main() {
    let manager = Manager::start().expect("start a manager");
    let d: DictProxy<i64> = manager.dict().expect("a manager dict");
    let mut writers: Vec<Process> = [("aa", 12), ("bb", 13)]
        .into_iter()
        .map(|(key, value)| {
            let d = &d;
            Process::start(move || d.set(key, &value).expect("set")).expect("start a writer")
        })
        .collect();
    for writer in &mut writers {
        writer.join().expect("join");
    }
    let items = d.items().expect("items");
    let exitcode = manager.shutdown().expect("shutdown");
    println!("the dict held: {items:?}");
    println!("the server exited with {exitcode}");
    println!("a proxy after shutdown fails: {}", d.items().is_err());
}
