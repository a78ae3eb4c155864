//! Exercise 06.6: read the results while the server lives
//!
//! Lesson 06, section 6 ("The server's life: where it listens, and what
//! shutdown leaves").
//! The tutorial's Python:
//!
//!     with Manager() as m:
//!         d = m.dict()
//!         ...                              # children write into d
//!         result = dict(d)                 # read inside the with-block
//!     print(result)                        # d itself is gone here
//!
//! Two children write into a manager dict. The parent shuts the manager
//! down, then reads the dict: but the dict lived in the server, and the
//! server is gone, so the read fails. Read what you need while the server
//! lives, then shut it down, and show that a proxy no longer answers.
//!
//! Check: `cargo xtask check 06.6`. Stuck: `cargo xtask hint 06.6`.

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
    // TODO: the dict lives in the server: read it before the server goes.
    let exitcode = manager.shutdown().expect("shutdown");
    let items = d.items().expect("items");
    println!("the dict held: {items:?}");
    println!("the server exited with {exitcode}");
    println!("a proxy after shutdown fails: {}", d.items().is_err());
}
