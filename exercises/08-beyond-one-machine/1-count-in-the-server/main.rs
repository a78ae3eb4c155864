//! Exercise 08.1: count in the server, not in the client
//!
//! Lesson 08, section 6 ("2 processes x 1000 times n = n + 1 on a Redis
//! hash; HINCRBY; WATCH/MULTI").
//! Python:
//!
//!     m = BaseManager(address=("127.0.0.1", port), authkey=key); m.connect()
//!     d = m.counts()
//!     for _ in range(300):
//!         d["n"] = d.get("n", 0) + 1       # two round trips: read, then write
//!
//! A manager served over TCP; two clients, each connected with the key, add
//! 1 to `d["n"]` 300 times. It should end at 600. Each increment is a read
//! and a write, two round trips over the network: between them the other
//! client writes too, and one of the two increments is lost. Make each
//! increment one request that the server does whole.
//!
//! Check: `cargo xtask check 08.1`. Stuck: `cargo xtask hint 08.1`.

use std::net::SocketAddr;
use std::time::Duration;

use multiproc::manager::{self, DictProxy};
use multiproc::{Manager, Process};

const KEY: [u8; 32] = [8; 32];
const CLIENTS: usize = 2;
const INCREMENTS: i64 = 300;

fn add_one_many_times(d: &DictProxy<i64>) {
    for _ in 0..INCREMENTS {
        // TODO: one request per increment, done whole by the server.
        let n = d.get("n").expect("get").unwrap_or(0);
        d.set("n", &(n + 1)).expect("set");
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
