//! Manager: the objects it serves and its cleanup, bad clients, a killed
//! server, a dead lock holder, and another user at the door.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use multiproc::{DictProxy, Manager, ManagerError, Pool, Process, QueueProxy};

use crate::skip;

fn put_square(args: (QueueProxy<u64>, u64)) {
    let (queue, x) = args;
    queue.put(&(x * x), None).unwrap();
}

pub fn dicts_queues_locks_and_cleanup() {
    let manager = Manager::start().unwrap();
    let pid = manager.pid().unwrap();
    let socket = manager.address().to_path_buf();
    let dir = socket.parent().unwrap().to_path_buf();
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "directory mode {mode:o}");
    let d: DictProxy<i64> = manager.dict().unwrap();
    d.set("a", &1).unwrap();
    d.update(&[("b", 2), ("c", 3)]).unwrap();
    assert_eq!((d.get("a").unwrap(), d.get("z").unwrap()), (Some(1), None));
    assert!(d.contains("b").unwrap());
    assert_eq!(d.len().unwrap(), 3);
    assert_eq!(d.keys().unwrap(), ["a", "b", "c"]);
    assert_eq!(
        d.items().unwrap(),
        [
            ("a".to_string(), 1),
            ("b".to_string(), 2),
            ("c".to_string(), 3)
        ]
    );
    assert_eq!(d.pop("c").unwrap(), Some(3));
    assert!(d.delete("b").unwrap());
    assert!(!d.delete("b").unwrap(), "deleting twice");
    assert_eq!((d.add("n", 5).unwrap(), d.add("n", -2).unwrap()), (5, 3));
    d.clear().unwrap();
    assert!(d.is_empty().unwrap());
    let q: QueueProxy<u64> = manager.queue(1).unwrap();
    q.put(&7, None).unwrap();
    assert_eq!(
        q.put(&8, Some(Duration::from_millis(100)))
            .unwrap_err()
            .to_string(),
        "the manager queue is full (Python: queue.Full)"
    );
    assert_eq!(q.get(None).unwrap(), 7);
    assert!(matches!(
        q.get(Some(Duration::from_millis(100))),
        Err(ManagerError::Empty)
    ));
    let lock = manager.lock().unwrap();
    lock.acquire(None).unwrap();
    let other = lock.clone(); // Its own connection: another holder.
    assert_eq!(
        other
            .acquire(Some(Duration::from_millis(100)))
            .unwrap_err()
            .to_string(),
        "timed out waiting for the manager lock"
    );
    assert_eq!(
        other.release().unwrap_err().to_string(),
        "the manager refused the request: release of a lock this connection does not hold"
    );
    lock.release().unwrap();
    other.acquire(Some(Duration::from_millis(100))).unwrap();
    // A manager queue goes to Pool tasks, as an argument.
    let squares: QueueProxy<u64> = manager.queue(0).unwrap();
    let pool = Pool::new(2).unwrap();
    for x in 0..4 {
        pool.apply_async(put_square, (squares.clone(), x))
            .unwrap()
            .get()
            .unwrap();
    }
    pool.close();
    pool.join().unwrap();
    let mut got: Vec<u64> = (0..4)
        .map(|_| squares.get(Some(Duration::from_secs(5))).unwrap())
        .collect();
    got.sort_unstable();
    assert_eq!(got, [0, 1, 4, 9], "squares from pool tasks");
    assert_eq!(manager.shutdown().unwrap(), 0);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "server gone"
    );
    assert!(
        !socket.exists() && !dir.exists(),
        "socket and directory gone"
    );
    assert!(matches!(d.get("a"), Err(ManagerError::Gone { .. })));
}

pub fn bad_clients_lose_only_their_connection() {
    let manager = Manager::start().unwrap();
    let d: DictProxy<i64> = manager.dict().unwrap();
    d.set("k", &1).unwrap();
    // Before any request comes the authkey handshake: garbage there gets a
    // refusal that says why, and the server serves the others.
    let attempts: [(&str, &[u8]); 3] = [
        ("garbage payload", &[0, 0, 0, 3, 0xff, 0xff, 0xff]),
        ("unknown method", &[0, 0, 0, 2, 99, 0]),
        ("oversize length", &[0xff, 0xff, 0xff, 0xff]),
    ];
    for (name, bytes) in attempts {
        let mut raw = UnixStream::connect(manager.address()).unwrap();
        raw.write_all(bytes).unwrap();
        raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut answer = Vec::new();
        let _ = raw.read_to_end(&mut answer);
        assert!(
            String::from_utf8_lossy(&answer).contains("bad handshake"),
            "{name}: the connection is closed with an error message: {answer:?}"
        );
        assert_eq!(
            d.get("k").unwrap(),
            Some(1),
            "{name}: the server still serves"
        );
    }
    // A proxy that went through bytes still works; a forged id is refused
    // with an error reply, not a dropped server.
    let bytes = postcard::to_allocvec(&d).unwrap();
    let stranger: DictProxy<i64> = postcard::from_bytes(&bytes).unwrap();
    // A proxy's bytes: where the server is (variant 0, a Unix socket, then
    // its path), the object's id, a token (0: none).
    let forged = postcard::to_allocvec(&(0u8, manager.address(), 77u64, 0u64)).unwrap();
    let missing: DictProxy<i64> = postcard::from_bytes(&forged).unwrap();
    assert_eq!(
        missing.get("k").unwrap_err().to_string(),
        "the manager refused the request: there is no dict with id 77 in this manager"
    );
    assert_eq!(stranger.get("k").unwrap(), Some(1));
}

pub fn a_killed_server_fails_every_call_within_a_second() {
    let manager = Manager::start().unwrap();
    let d: DictProxy<i64> = manager.dict().unwrap();
    let q: QueueProxy<i64> = manager.queue(0).unwrap();
    d.set("k", &1).unwrap();
    // A child blocked in a get with no timeout when the server dies.
    let mut waiter = Process::start(|| {
        assert!(matches!(q.get(None), Err(ManagerError::Gone { .. })));
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(manager.pid().unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let started = Instant::now();
    let outcome = d.get("k");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a call fails within 1 s"
    );
    let gone = outcome.unwrap_err();
    assert!(matches!(gone, ManagerError::Gone { .. }), "{gone:?}");
    assert!(
        gone.to_string().starts_with("the manager is gone ("),
        "{gone}"
    );
    assert!(
        std::error::Error::source(&gone).is_some(),
        "the cause is kept"
    );
    assert_eq!(
        waiter.join_timeout(Duration::from_secs(1)).unwrap(),
        Some(0),
        "a blocked get saw it too, within 1 s"
    );
    drop(manager); // Reaps the dead server, removes the directory.
}

pub fn a_lock_whose_holder_dies_is_released() {
    let manager = Manager::start().unwrap();
    let lock = manager.lock().unwrap();
    let mut holder = Process::start(|| {
        lock.acquire(None).unwrap();
        std::thread::sleep(Duration::from_secs(30));
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(matches!(
        lock.acquire(Some(Duration::from_millis(100))),
        Err(ManagerError::Timeout)
    ));
    holder.kill().unwrap();
    holder.join().unwrap();
    let started = Instant::now();
    lock.acquire(Some(Duration::from_secs(5))).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "released within 1 s"
    );
}

pub fn another_user_cannot_get_in() {
    if !nix::unistd::geteuid().is_root() {
        skip("needs root to become another user");
    }
    let manager = Manager::start().unwrap();
    let d: DictProxy<i64> = manager.dict().unwrap();
    d.set("secret", &42).unwrap();
    let socket = manager.address().to_path_buf();
    let dir = socket.parent().unwrap().to_path_buf();
    let as_nobody = |check: &dyn Fn()| {
        let mut child = Process::start(|| {
            let nobody = 65534;
            nix::unistd::setgid(nix::unistd::Gid::from_raw(nobody)).unwrap();
            nix::unistd::setuid(nix::unistd::Uid::from_raw(nobody)).unwrap();
            check();
        })
        .unwrap();
        child.join().unwrap()
    };
    let proxy_refused = || {
        let refused = d.get("secret").unwrap_err();
        assert!(
            matches!(
                refused,
                ManagerError::Gone { .. } | ManagerError::Refused(_)
            ),
            "{refused:?}"
        );
    };
    assert_eq!(
        as_nobody(&proxy_refused),
        0,
        "refused by the 0700 directory"
    );
    // Open the directory and socket to everyone: the uid checks still refuse,
    // the client's (the server is not this user's) and the server's.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(
        as_nobody(&proxy_refused),
        0,
        "refused by the client's check"
    );
    let server_hangs_up = || {
        let mut raw = UnixStream::connect(&socket).unwrap();
        raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut answer = Vec::new();
        let _ = raw.read_to_end(&mut answer);
        assert!(
            answer.is_empty(),
            "no challenge for another user: {answer:?}"
        );
    };
    assert_eq!(as_nobody(&server_hangs_up), 0, "refused by SO_PEERCRED");
    assert_eq!(
        d.get("secret").unwrap(),
        Some(42),
        "the owner still gets in"
    );
}

/// A child that drops a proxy it
/// inherited connected must not close, by number, a file of its own.
pub fn dropping_an_inherited_proxy_closes_nothing_of_the_child() {
    let manager = Manager::start().unwrap();
    let d: DictProxy<i64> = manager.dict().unwrap();
    d.set("k", &1).unwrap(); // Connected: the parent holds a socket.
    let mut child = Process::start(move || {
        let path = std::env::temp_dir().join(format!("multiproc-drop-{}", std::process::id()));
        let mut file = std::fs::File::create(&path).unwrap();
        drop(d);
        let written = file.write_all(b"hello");
        let _ = std::fs::remove_file(&path);
        written.unwrap();
    })
    .unwrap();
    assert_eq!(child.join().unwrap(), 0, "the child's own file still works");
}
