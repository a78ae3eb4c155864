//! Solution to exercise 06.4: the dict lives in the manager's server; each
//! child's proxy sends its `set` there.

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
    println!("the parent sees: {:?}", d.items().expect("items"));
}
