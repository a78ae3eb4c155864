//! Solution to exercise 08.1: `add` is one request that the server does
//! whole (Python: a custom method on the managed object, or HINCRBY).

use std::net::SocketAddr;
use std::time::Duration;

use multiproc::manager::{self, DictProxy};
use multiproc::{Manager, Process};

const KEY: [u8; 32] = [8; 32];
const CLIENTS: usize = 2;
const INCREMENTS: i64 = 300;

fn add_one_many_times(d: &DictProxy<i64>) {
    for _ in 0..INCREMENTS {
        d.add("n", 1).expect("add");
    }
}

fn main() {
    let manager = Manager::serve("127.0.0.1:0".parse().unwrap(), KEY).expect("serve");
    let address: SocketAddr = manager.tcp_address().expect("a TCP address");
    // This process is a client too: the dict's proxy reaches the server
    // over TCP, and so do the copies the clients get by fork.
    let remote = manager::connect(address, KEY, Duration::from_secs(5)).expect("connect");
    let d: DictProxy<i64> = remote.dict().expect("a dict");
    let mut clients: Vec<Process> = (0..CLIENTS)
        .map(|_| Process::start(|| add_one_many_times(&d)).expect("start a client"))
        .collect();
    for client in &mut clients {
        assert_eq!(client.join().expect("join"), 0, "a client failed");
    }
    let n = d.get("n").expect("get").unwrap_or(0);
    println!("{CLIENTS} clients x {INCREMENTS} increments over TCP: n = {n}");
    println!(
        "exactly {}: {}",
        CLIENTS as i64 * INCREMENTS,
        n == CLIENTS as i64 * INCREMENTS
    );
    drop(d);
    manager.shutdown().expect("shutdown");
}
