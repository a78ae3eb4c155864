//! The manager served over TCP: a client that did not fork from its owner
//! gets in with the key and only with it, makes and shares objects, and
//! takes its references and locks with it when it goes; a child keeps the
//! objects of the proxies it copied; a stranger that stalls holds up
//! nobody.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use multiproc::manager::{self, RemoteManager};
use multiproc::{Manager, ManagerError, Process};

use crate::ms_since;

const KEY: [u8; 32] = [9; 32];

fn served() -> (Manager, SocketAddr) {
    let manager = Manager::serve("127.0.0.1:0".parse().unwrap(), KEY).unwrap();
    let address = manager.tcp_address().expect("served on TCP");
    (manager, address)
}

fn connected(address: SocketAddr) -> RemoteManager {
    manager::connect(address, KEY, Duration::from_secs(5)).unwrap()
}

pub fn a_client_with_the_key_shares_objects_over_tcp() {
    let (manager, address) = served();
    // The wrong key: refused, both ways proved.
    let wrong = manager::connect(address, [1; 32], Duration::from_secs(5));
    assert!(
        matches!(wrong, Err(ManagerError::Refused(_))),
        "a wrong key: {wrong:?}"
    );
    // Two children, each its own client: the dict one makes is counted
    // into by the other (server-side `add`: no lost update).
    let remote = connected(address);
    let counts = remote.dict::<i64>().unwrap();
    let lock = remote.lock().unwrap();
    let workers: Vec<Process> = (0..2)
        .map(|_| {
            let counts = counts.clone();
            Process::start(move || {
                for _ in 0..500 {
                    counts.add("n", 1).unwrap();
                }
            })
            .unwrap()
        })
        .collect();
    for mut worker in workers {
        assert_eq!(worker.join().unwrap(), 0);
    }
    assert_eq!(counts.get("n").unwrap(), Some(1000));
    // A proxy moved into a child: the parent's copy is dropped as soon as
    // the child is forked, and the object lives on for the child.
    let lent = remote.dict::<i64>().unwrap();
    let mut child = Process::start(move || {
        std::thread::sleep(Duration::from_millis(300));
        lent.set("x", &1).unwrap();
    })
    .unwrap();
    assert_eq!(
        child.join().unwrap(),
        0,
        "the child's copy outlived the parent's"
    );
    // A client killed while holding the lock lets go of it, and of its
    // references, when its connection closes.
    let (for_child, said) = (lock.clone(), counts.clone());
    let mut holder = Process::start(move || {
        let remote = connected(address);
        let mine = remote.dict::<i64>().unwrap();
        mine.set("k", &1).unwrap();
        for_child.acquire(None).unwrap();
        said.set("holding", &1).unwrap();
        std::mem::forget(mine);
        std::thread::sleep(Duration::from_secs(60));
    })
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while counts.get("holding").unwrap().is_none() {
        assert!(Instant::now() < deadline, "the child never took the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(manager.number_of_objects().unwrap(), 3);
    assert!(matches!(
        lock.acquire(Some(Duration::from_millis(200))),
        Err(ManagerError::Timeout)
    ));
    holder.kill().unwrap();
    holder.join().unwrap();
    lock.acquire(Some(Duration::from_secs(5)))
        .expect("the killed client's lock is free again");
    lock.release().unwrap();
    // The killed client's own dict is freed: left are this process's dict
    // and lock.
    let deadline = Instant::now() + Duration::from_secs(5);
    while manager.number_of_objects().unwrap() != 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(manager.number_of_objects().unwrap(), 2);
    drop(lock);
    drop(counts);

    manager.shutdown().unwrap();
}

pub fn a_stalled_stranger_holds_up_nobody() {
    let (manager, address) = served();
    // A stranger that connects and says nothing, and one that floods.
    let _silent = TcpStream::connect(address).unwrap();
    let mut flood = TcpStream::connect(address).unwrap();
    let _ = flood.write_all(&[0xff; 64 * 1024]);
    let started = Instant::now();
    let remote = connected(address);
    let d = remote.dict::<u32>().unwrap();
    d.set("k", &7).unwrap();
    assert_eq!(d.get("k").unwrap(), Some(7));
    let took = ms_since(started);
    assert!(
        took < 2000,
        "a client waited {took} ms behind the strangers"
    );
    // The owner stops the server: its clients over TCP find it gone.
    drop(d);
    manager.shutdown().unwrap();
    let after = remote.dict::<u32>();
    assert!(
        matches!(after, Err(ManagerError::Gone { .. })),
        "after shutdown: {after:?}"
    );
}

/// A thousand strangers connected at once, none saying a word: the server
/// still serves a client with the key at once, and when they go, nothing
/// of them stays.
pub fn a_thousand_silent_connections_hold_up_nobody() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if hard < 1100 {
        crate::skip("RLIMIT_NOFILE's hard limit is under 1100");
    }
    setrlimit(Resource::RLIMIT_NOFILE, soft.max(1100), hard).unwrap();
    let (manager, address) = served();
    let strangers: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(address).unwrap())
        .collect();
    let started = Instant::now();
    let remote = connected(address);
    let d = remote.dict::<u32>().unwrap();
    d.set("k", &1).unwrap();
    assert_eq!(d.get("k").unwrap(), Some(1));
    let took = ms_since(started);
    assert!(
        took < 2000,
        "a client waited {took} ms behind 1000 strangers"
    );
    drop(strangers);
    // Each stranger's thread ends at once when its peer closes.
    let deadline = Instant::now() + Duration::from_secs(10);
    let threads = |pid: i32| {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let server = manager.pid().unwrap();
    while threads(server) > 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        threads(server) <= 10,
        "the server still has {} threads",
        threads(server)
    );
    assert_eq!(d.get("k").unwrap(), Some(1));
    drop(d);
    manager.shutdown().unwrap();
}
