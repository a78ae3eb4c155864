//! Exercise 06.3: a value you get is a copy: set it back
//!
//! Lesson 06, section 4 ("A value you get is a copy: change it, and the
//! dict does not change").
//! The Python this code copies:
//!
//!     def add_four(d):
//!         d['list'].append(4)       # changes a copy; the dict keeps [1, 2, 3]
//!
//! A child process appends 4 to the list kept under "list" in a manager
//! dict, and the parent reads it back after the child is done. `get`
//! returns an owned copy of the value: pushing onto it changes only the
//! child's copy. Make the dict hold [1, 2, 3, 4].
//!
//! Check: `cargo xtask check 06.3`. Stuck: `cargo xtask hint 06.3`.

use multiproc::{Manager, Process};

fn main() {
    let manager = Manager::start().expect("start the manager");
    let d = manager.dict::<Vec<u32>>().expect("a dict");
    d.set("list", &vec![1, 2, 3]).expect("set");
    let mut child = Process::start(|| {
        let mut list = d.get("list").expect("get").expect("the list is there");
        list.push(4);
        // TODO: the dict has not changed.
        println!("the child's copy: {list:?}");
    })
    .expect("start the child");
    assert_eq!(child.join().expect("join"), 0, "the child failed");
    let now = d.get("list").expect("get").expect("the list is there");
    println!("the dict holds: {now:?}");
    manager.shutdown().expect("shut the manager down");
}
