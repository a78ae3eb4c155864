//! Solution to exercise 06.3: change the copy, then store it again.

use multiproc::{Manager, Process};

fn main() {
    let manager = Manager::start().expect("start the manager");
    let d = manager.dict::<Vec<u32>>().expect("a dict");
    d.set("list", &vec![1, 2, 3]).expect("set");
    let mut child = Process::start(|| {
        let mut list = d.get("list").expect("get").expect("the list is there");
        list.push(4);
        d.set("list", &list).expect("set");
        println!("the child's copy: {list:?}");
    })
    .expect("start the child");
    assert_eq!(child.join().expect("join"), 0, "the child failed");
    let now = d.get("list").expect("get").expect("the list is there");
    println!("the dict holds: {now:?}");
    manager.shutdown().expect("shut the manager down");
}
