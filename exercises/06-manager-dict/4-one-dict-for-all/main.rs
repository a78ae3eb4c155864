//! Exercise 06.4: one dict that every process writes into
//!
//! Lesson 06, section 1 ("Two processes write into one manager dict").
//! The tutorial's Python:
//!
//!     d = Manager().dict()
//!     p0 = Process(target=puta, args=(d, 'aa', 12))
//!     p1 = Process(target=puta, args=(d, 'bb', 13))
//!
//! Two children each put one entry into a `HashMap` made before the fork,
//! and the parent prints it: empty. Each child changed its own copy. Make
//! both entries reach the parent's view of the dict.
//!
//! Check: `cargo xtask check 06.4`. Stuck: `cargo xtask hint 06.4`.

use std::collections::HashMap;
use std::sync::Mutex;

use multiproc::Process;

fn main() {
    // TODO: a dict that lives outside every one of these processes.
    let d: Mutex<HashMap<String, i64>> = Mutex::new(HashMap::new());
    let mut writers: Vec<Process> = [("aa", 12), ("bb", 13)]
        .into_iter()
        .map(|(key, value)| {
            let d = &d;
            Process::start(move || {
                d.lock().expect("lock").insert(key.to_string(), value);
            })
            .expect("start a writer")
        })
        .collect();
    for writer in &mut writers {
        writer.join().expect("join");
    }
    let mut items: Vec<(String, i64)> = d.lock().expect("lock").clone().into_iter().collect();
    items.sort();
    println!("the parent sees: {items:?}");
}
