//! Manager under hostile use: strangers, impostors, a dead owner, resource limits.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use multiproc::{DictProxy, Manager, ManagerError, Process};

use crate::skip;

/// A program of the same user that was not forked or spawned
/// from the manager's owner has another authkey, and gets nothing.
pub fn a_foreign_client_is_refused() {
    let manager = Manager::start().unwrap();
    let d: DictProxy<i64> = manager.dict().unwrap();
    d.set("secret", &42).unwrap();
    let proxy: String = postcard::to_allocvec(&d)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // Started with std's Command: a stranger, not a multiproc child.
    let foreign = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--scenario", "foreign-client"])
        .env("FOREIGN_PROXY", proxy)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&foreign.stdout);
    assert!(foreign.status.success(), "{foreign:?}");
    assert!(
        said.contains("do not trust each other: wrong authkey"),
        "the stranger is told why: {said}"
    );
    assert_eq!(
        d.get("secret").unwrap(),
        Some(42),
        "the owner still gets in"
    );
}

/// The stranger's side of [`a_foreign_client_is_refused`].
pub fn foreign_client() {
    let hex = std::env::var("FOREIGN_PROXY").unwrap();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let d: DictProxy<i64> = postcard::from_bytes(&bytes).unwrap();
    let refused = d.get("secret").unwrap_err();
    assert!(matches!(refused, ManagerError::Refused(_)), "{refused:?}");
    println!("{refused}");
}

/// When the manager's owner dies, even by SIGKILL, the server
/// removes its socket and directory and exits, within a second.
pub fn the_server_cleans_up_when_its_owner_dies() {
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let (mut recv_end, mut send_end) = multiproc::Pipe::one_way().unwrap();
    let mut owner = Process::start(|| {
        let manager = Manager::start().unwrap();
        let address = manager.address().to_path_buf();
        send_end.send(&(address, manager.pid().unwrap())).unwrap();
        std::thread::sleep(Duration::from_secs(30));
    })
    .unwrap();
    let (socket, server): (std::path::PathBuf, i32) = recv_end.recv().unwrap();
    let dir = socket.parent().unwrap().to_path_buf();
    assert!(socket.exists());
    owner.kill().unwrap();
    owner.join().unwrap();
    let started = Instant::now();
    let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(server), None).unwrap();
    assert_eq!(
        status,
        nix::sys::wait::WaitStatus::Exited(nix::unistd::Pid::from_raw(server), 0)
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(
        !socket.exists() && !dir.exists(),
        "{} is left",
        dir.display()
    );
}

/// The server holds no descriptor of its owner's: a pipe made
/// before the manager sees its end of stream once its writer is closed.
pub fn the_server_holds_none_of_its_owners_descriptors() {
    let (mut recv_end, send_end) = multiproc::Pipe::one_way().unwrap();
    let manager = Manager::start().unwrap();
    drop(send_end);
    assert!(recv_end.poll(Some(Duration::from_secs(2))).unwrap());
    assert!(matches!(
        recv_end.recv::<u8>(),
        Err(multiproc::WireError::Eof)
    ));
    drop(manager);
}

/// A manager that cannot start leaves no directory behind.
pub fn a_failed_start_leaves_no_directory() {
    let long = std::env::temp_dir().join("x".repeat(100));
    std::fs::create_dir_all(&long).unwrap();
    // Safety: single-threaded here; nothing reads the environment meanwhile.
    unsafe { std::env::set_var("TMPDIR", &long) };
    let failed = Manager::start().unwrap_err();
    assert!(failed.to_string().contains("cannot listen at"), "{failed}");
    let left: Vec<_> = std::fs::read_dir(&long).unwrap().collect();
    std::fs::remove_dir(&long).unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Becomes user `nobody` (this child only), for a resource limit that root
/// would not be held to.
fn become_nobody() {
    let nobody = 65534;
    nix::unistd::setgid(nix::unistd::Gid::from_raw(nobody)).unwrap();
    nix::unistd::setuid(nix::unistd::Uid::from_raw(nobody)).unwrap();
}

/// A server that cannot start a thread for a connection refuses
/// that one connection, says why, and goes on serving the others.
pub fn out_of_threads_refuses_one_connection_only() {
    if !nix::unistd::geteuid().is_root() {
        skip("needs root to become another user and be held to RLIMIT_NPROC");
    }
    let mut child = Process::start(|| {
        become_nobody();
        // Room for a few threads of this user, no more: the server inherits
        // the limit.
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NPROC, 12, 12).unwrap();
        let manager = Manager::start().unwrap();
        let d: DictProxy<i64> = manager.dict().unwrap();
        d.set("k", &1).unwrap();
        let mut refused = None;
        let mut held = Vec::new();
        for _ in 0..40 {
            let proxy = d.clone(); // Its own connection: one server thread.
            match proxy.get("k") {
                Ok(value) => assert_eq!(value, Some(1)),
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
            held.push(proxy);
        }
        let refused = refused.expect("the thread limit was never reached");
        assert!(
            refused
                .to_string()
                .contains("cannot serve another connection now"),
            "{refused}"
        );
        drop(held);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(d.get("k").unwrap(), Some(1), "the server still serves");
        assert_eq!(manager.shutdown().unwrap(), 0);
    })
    .unwrap();
    assert_eq!(child.join().unwrap(), 0);
}

/// A server out of descriptors waits for one to close instead of
/// spinning on `accept`, and serves again once one does.
pub fn out_of_descriptors_waits_without_spinning() {
    let mut child = Process::start(|| {
        // The server inherits this limit: room for about 30 connections.
        use nix::sys::resource::{Resource, getrlimit, setrlimit};
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        setrlimit(Resource::RLIMIT_NOFILE, 40, hard).unwrap();
        let manager = Manager::start().unwrap();
        // This process gets its own limit back.
        setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
        let server = manager.pid().unwrap();
        let d: DictProxy<i64> = manager.dict().unwrap();
        d.set("k", &1).unwrap();
        let mut held = Vec::new();
        for _ in 0..30 {
            let proxy = d.clone();
            if proxy.get("k").is_err() {
                break;
            }
            held.push(proxy);
        }
        // Connections over the server's limit wait in its backlog.
        let cpu = |pid: i32| -> u64 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
            fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
        };
        let waiting: Vec<_> = (0..3)
            .map(|_| std::os::unix::net::UnixStream::connect(manager.address()).unwrap())
            .collect();
        let before = cpu(server);
        std::thread::sleep(Duration::from_secs(1));
        let ticks = cpu(server) - before;
        assert!(
            ticks < 30,
            "the server used {ticks} of 100 ticks in a second"
        );
        drop(waiting);
        drop(held);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(d.clone().get("k").unwrap(), Some(1), "serves again");
    })
    .unwrap();
    assert_eq!(child.join().unwrap(), 0);
}

/// A client checks its server too. Someone else's server at our
/// socket's path (here: one that does not know the authkey) is not talked to.
pub fn a_server_without_the_key_is_not_talked_to() {
    let manager = Manager::start().unwrap();
    let socket = manager.address().to_path_buf();
    let d: DictProxy<i64> = manager.dict().unwrap();
    let bytes = postcard::to_allocvec(&d).unwrap();
    let dir = socket.parent().unwrap().to_path_buf();
    assert_eq!(manager.shutdown().unwrap(), 0);
    // An impostor listens where the manager was, and answers the challenge
    // with bytes it cannot compute.
    std::fs::create_dir(&dir).unwrap();
    // Removed however the scenario ends, a failed assert included.
    let _impostors_place = RemovedOnDrop(dir.clone());
    let impostor = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    // Two connections come: the proxy's reference connection, as it is
    // decoded, and the one for its request. Neither gets past the handshake.
    let serving = std::thread::spawn(move || {
        let mut sent_after = Vec::new();
        for _ in 0..2 {
            let (mut stream, _) = impostor.accept().unwrap();
            let mut challenge = vec![0, 0, 0, 33, 0];
            challenge.extend([7u8; 32]);
            stream.write_all(&challenge).unwrap();
            let mut answer = [0u8; 4 + 1 + 64];
            stream.read_exact(&mut answer).unwrap();
            let mut reply = vec![0, 0, 0, 33, 2];
            reply.extend([9u8; 32]);
            stream.write_all(&reply).unwrap();
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
            sent_after.extend(rest);
        }
        sent_after
    });
    let stranger: DictProxy<i64> = postcard::from_bytes(&bytes).unwrap();
    let refused = stranger.set("secret", &1).unwrap_err();
    assert!(matches!(refused, ManagerError::Refused(_)), "{refused:?}");
    assert!(refused.to_string().contains("not our manager"), "{refused}");
    drop(stranger);
    let sent_after = serving.join().unwrap();
    assert!(
        sent_after.is_empty(),
        "no request ever went out: {sent_after:?}"
    );
}

/// A directory this scenario made, removed with what is in it when the
/// value is dropped (also while a failed assert unwinds).
struct RemovedOnDrop(std::path::PathBuf);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A reply over the frame limit is an error that says so; the
/// server is alive and the connection goes on.
pub fn an_oversize_reply_is_an_error_not_a_dead_server() {
    let manager = Manager::start().unwrap();
    let d: DictProxy<Vec<u8>> = manager.dict().unwrap();
    let value = vec![7u8; 33 << 20];
    d.set("a", &value).unwrap();
    d.set("b", &value).unwrap();
    let refused = d.items().unwrap_err();
    assert!(matches!(refused, ManagerError::Remote(_)), "{refused:?}");
    assert!(refused.to_string().contains("cannot be sent"), "{refused}");
    assert_eq!(d.len().unwrap(), 2, "the server is alive");
}

/// A signal handler installed without `SA_RESTART` (as Python's
/// `signal.signal` installs them) interrupts blocking calls with `EINTR`:
/// 40 starts and shutdowns under a timer that fires every 0.1 ms must all
/// succeed.
pub fn manager_start_survives_a_timer_without_sa_restart() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    extern "C" fn on_alarm(_: libc::c_int) {}
    let action = SigAction::new(
        SigHandler::Handler(on_alarm),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // Safety: the handler does nothing, so it is async-signal-safe.
    unsafe { sigaction(Signal::SIGALRM, &action) }.unwrap();
    let every = libc::timeval {
        tv_sec: 0,
        tv_usec: 100,
    };
    let timer = libc::itimerval {
        it_interval: every,
        it_value: every,
    };
    // Safety: `timer` is a valid itimerval; the old value is not wanted.
    let rc = unsafe { libc::setitimer(libc::ITIMER_REAL, &raw const timer, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "setitimer");
    let mut failures = Vec::new();
    for _ in 0..40 {
        match Manager::start() {
            Ok(manager) => {
                let d: DictProxy<u32> = manager.dict().unwrap();
                d.set("k", &1).unwrap();
                assert_eq!(d.get("k").unwrap(), Some(1));
                manager.shutdown().unwrap();
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    let off = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
    };
    // Safety: as above.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &raw const off, std::ptr::null_mut()) };
    assert!(
        failures.is_empty(),
        "{} of 40 starts failed: {failures:?}",
        failures.len()
    );
}

/// The spawned child's side of [`a_spawned_childs_key_is_in_no_environment`]:
/// its environment and command line hold no key, and it still has the key
/// (the proxy it was given works).
fn spawned_child_without_key_in_environ(proxy: DictProxy<u32>) {
    let environ = std::fs::read("/proc/self/environ").unwrap();
    let cmdline = std::fs::read("/proc/self/cmdline").unwrap();
    for (what, bytes) in [("environment", &environ), ("command line", &cmdline)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains("AUTHKEY"),
            "the key's name is in the {what}: {text}"
        );
        // A hex key would be 64 hex digits in a row.
        let longest_hex = text
            .split(|c: char| !c.is_ascii_hexdigit())
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(longest_hex < 64, "something like a key is in the {what}");
    }
    proxy.set("spawned", &7).unwrap();
}

/// `Process::spawn` hands the authkey over on a descriptor the child closes,
/// never in its environment, where `/proc/<pid>/environ` keeps it for any
/// program of the same user to read for the child's whole life.
pub fn a_spawned_childs_key_is_in_no_environment() {
    let manager = Manager::start().unwrap();
    let d: DictProxy<u32> = manager.dict().unwrap();
    let mut child = Process::spawn(spawned_child_without_key_in_environ, d.clone()).unwrap();
    assert_eq!(
        child.join().unwrap(),
        0,
        "the spawned child's checks passed"
    );
    assert_eq!(d.get("spawned").unwrap(), Some(7), "and it had the key");
    manager.shutdown().unwrap();
}

/// A timed call returns by its timeout plus `REPLY_MARGIN` whatever the
/// server does: here it is stopped (SIGSTOP) for 6 s, and a `get` with
/// 300 ms must end well before that, saying the server did not answer.
/// After SIGCONT the proxy works again, on a new connection.
pub fn a_timed_call_to_a_stopped_server_returns_by_its_deadline() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let manager = Manager::start().unwrap();
    let queue = manager.queue::<u32>(0).unwrap();
    queue.put(&1, None).unwrap();
    assert_eq!(queue.get(None).unwrap(), 1);
    let server = Pid::from_raw(manager.pid().unwrap());
    kill(server, Signal::SIGSTOP).unwrap();
    let waker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(8));
        let _ = kill(server, Signal::SIGCONT);
    });
    let started = Instant::now();
    let got = queue.get(Some(Duration::from_millis(300)));
    let took = started.elapsed();
    let bound = Duration::from_millis(300) + multiproc::manager::REPLY_MARGIN;
    assert!(
        took < bound + Duration::from_millis(700),
        "the call took {took:?}, past its deadline of {bound:?}"
    );
    assert!(
        matches!(&got, Err(ManagerError::Unresponsive { .. })),
        "{got:?}"
    );
    assert!(got.unwrap_err().to_string().contains("did not answer"));
    // A new connection to the stopped server: its handshake gets no answer,
    // and the error says the server may be stopped, not that it died.
    let fresh = queue.clone().qsize().unwrap_err();
    assert!(
        matches!(&fresh, ManagerError::Unresponsive { .. }),
        "{fresh:?}"
    );
    let said = fresh.to_string();
    assert!(
        said.contains("connecting") && said.contains("stopped") && !said.contains("die"),
        "{said}"
    );
    waker.join().unwrap();
    // The abandoned `get` runs in the server once it resumes, for its own
    // 300 ms: let it end before putting what it could take.
    std::thread::sleep(Duration::from_millis(800));
    queue.put(&2, None).unwrap();
    assert_eq!(
        queue.get(None).unwrap(),
        2,
        "after SIGCONT, a new connection works"
    );
    manager.shutdown().unwrap();
}

/// At the descriptor limit, whichever call runs out says which it was:
/// `Manager::start`, `Pool::new` and `Queue::new` each tried with room for
/// 0 to 15 more descriptors.
pub fn out_of_descriptors_names_the_call() {
    let mut child = Process::start(|| {
        use nix::sys::resource::{Resource, getrlimit, setrlimit};
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        let open_now = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
        let mut seen = Vec::new();
        for room in 0..16 {
            setrlimit(Resource::RLIMIT_NOFILE, open_now + room, hard).unwrap();
            let errors = [
                Manager::start()
                    .err()
                    .map(|e| ("Manager::start", e.to_string())),
                multiproc::Pool::new(2)
                    .err()
                    .map(|e| ("Pool::new", e.to_string())),
                multiproc::Queue::<u8>::new(0)
                    .err()
                    .map(|e| ("Queue::new", e.to_string())),
            ];
            setrlimit(Resource::RLIMIT_NOFILE, open_now + 64, hard).unwrap();
            for (what, message) in errors.into_iter().flatten() {
                seen.push(format!("{what} with room for {room}: {message}"));
            }
        }
        for line in &seen {
            eprintln!("{line}");
        }
        assert!(!seen.is_empty(), "some attempt ran out of descriptors");
        for line in &seen {
            let (_, message) = line.split_once(": ").unwrap();
            assert!(
                !message.starts_with("Too many open files"),
                "the failing call is not named: {line}"
            );
        }
    })
    .unwrap();
    assert_eq!(child.join().unwrap(), 0);
}
