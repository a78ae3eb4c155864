//! Listener and connect: messages between processes that did not fork one
//! another, over loopback TCP and Unix sockets; the authkey both ways; what
//! strangers can and cannot do; every wait with a deadline.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use multiproc::Process;
use multiproc::connection::{Address, HANDSHAKE_TIMEOUT, LinkError, Listener, connect};

use crate::ms_since;

const KEY: [u8; 32] = [42; 32];

fn loopback() -> Address {
    Address::tcp("127.0.0.1:0".parse().unwrap())
}

/// A client in a child process: connects with `key`, sends "ping", expects
/// "ping pong"; exits 0 if all went so, 3 if it was refused.
fn client(address: &Address, key: [u8; 32]) -> Process {
    Process::start_with_code(
        || match connect(address, Some(key), Duration::from_secs(5)) {
            Ok(mut link) => {
                link.send("ping").unwrap();
                assert_eq!(link.recv::<String>().unwrap(), "ping pong");
                0
            }
            Err(LinkError::Refused(_)) => 3,
            Err(e) => panic!("connect: {e}"),
        },
    )
    .unwrap()
}

fn serve_one(listener: &Listener) -> Result<(), LinkError> {
    let mut link = listener.accept_timeout(Duration::from_secs(10))?;
    let ping: String = link.recv_timeout(Duration::from_secs(5))?;
    link.send(&format!("{ping} pong"))
}

pub fn a_client_with_the_key_is_served_and_one_without_is_refused() {
    let dir = std::env::temp_dir().join(format!("multiproc-net-{}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    for address in [loopback(), Address::unix(dir.join("listener.sock"))] {
        let listener = Listener::bind(address, Some(KEY)).unwrap();
        let address = listener.address().clone();
        let mut good = client(&address, KEY);
        serve_one(&listener).unwrap();
        assert_eq!(
            good.join().unwrap(),
            0,
            "the client with the key ({address})"
        );
        let mut wrong = client(&address, [1; 32]);
        match serve_one(&listener) {
            Err(LinkError::Refused(why)) => assert!(why.contains("authkey"), "{why}"),
            other => panic!("a client with the wrong key was served: {other:?}"),
        }
        assert_eq!(
            wrong.join().unwrap(),
            3,
            "the client with the wrong key is told no"
        );
        let mut after = client(&address, KEY);
        serve_one(&listener).unwrap();
        assert_eq!(
            after.join().unwrap(),
            0,
            "the listener serves the next client"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

pub fn strangers_fail_only_their_own_accept() {
    let listener = Listener::bind(loopback(), Some(KEY)).unwrap();
    let Address::Tcp(at) = listener.address().clone() else {
        unreachable!("bound on TCP")
    };
    // A frame that announces 1 MiB, within what an authenticated peer may
    // send but not a stranger: refused from its prefix, at once, without
    // waiting for the rest.
    let mut garbage = TcpStream::connect(at).unwrap();
    garbage.write_all(&(1u32 << 20).to_be_bytes()).unwrap();
    garbage.write_all(&[0xff; 60]).unwrap();
    let started = Instant::now();
    match listener.accept_timeout(Duration::from_secs(5)) {
        Err(LinkError::Wire(e)) => assert!(e.to_string().contains("limit of 1024"), "{e}"),
        other => panic!("garbage was accepted: {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "garbage took {} ms",
        ms_since(started)
    );
    // A client that floods: 8 MiB of bytes that are no handshake.
    let mut flood = Process::start(move || {
        if let Ok(mut stream) = TcpStream::connect(at) {
            let _ = stream.write_all(&vec![0u8; 8 << 20]);
        }
    })
    .unwrap();
    let started = Instant::now();
    assert!(
        listener.accept_timeout(Duration::from_secs(5)).is_err(),
        "a flood was accepted"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the flood took {} ms",
        ms_since(started)
    );
    flood.join().unwrap();
    // A client that connects and says nothing: dropped at the handshake's
    // deadline, not later.
    let silent = TcpStream::connect(at).unwrap();
    let started = Instant::now();
    match listener.accept_timeout(Duration::from_secs(5)) {
        Err(LinkError::TimedOut { .. }) => {}
        other => panic!("a silent client was accepted: {other:?}"),
    }
    let took = started.elapsed();
    assert!(
        took >= HANDSHAKE_TIMEOUT && took < HANDSHAKE_TIMEOUT + Duration::from_secs(1),
        "a silent client took {} ms",
        ms_since(started)
    );
    drop(silent);
    // And the listener is as it was.
    let mut good = client(listener.address(), KEY);
    serve_one(&listener).unwrap();
    assert_eq!(good.join().unwrap(), 0);
}

pub fn every_wait_keeps_its_deadline() {
    let listener = Listener::bind(loopback(), Some(KEY)).unwrap();
    let address = listener.address().clone();
    // The peer connects, then neither sends nor reads until told to go.
    let (mut told, mut tell) = multiproc::Pipe::one_way().unwrap();
    let mut quiet = Process::start(move || {
        let link = connect(&address, Some(KEY), Duration::from_secs(5)).unwrap();
        let _: Result<u8, _> = told.recv();
        drop(link);
    })
    .unwrap();
    let mut link = listener.accept_timeout(Duration::from_secs(10)).unwrap();
    let started = Instant::now();
    match link.recv_timeout::<String>(Duration::from_millis(300)) {
        Err(LinkError::TimedOut { .. }) => {}
        other => panic!("recv_timeout: {other:?}"),
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(1300),
        "recv_timeout(300 ms) took {} ms",
        ms_since(started)
    );
    assert!(
        !link.poll(Duration::from_millis(50)).unwrap(),
        "nothing to read"
    );
    // A peer that does not read: the buffers between us fill, and then a
    // send gives up at its deadline. (Strings, which encode in one copy.)
    let mib = "x".repeat(1 << 20);
    let mut sent = 0;
    let took = loop {
        let started = Instant::now();
        match link.send_timeout(&mib, Duration::from_millis(500)) {
            Ok(()) => sent += 1,
            Err(LinkError::TimedOut { during, .. }) => {
                assert_eq!(during, "sending");
                break started.elapsed();
            }
            Err(e) => panic!("send_timeout to a peer that does not read: {e}"),
        }
        assert!(sent < 256, "256 MiB went to a peer that reads nothing");
    };
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_millis(1500),
        "send_timeout(500 ms) took {} ms, after {sent} MiB",
        took.as_millis()
    );
    tell.send(&1u8).unwrap();
    quiet.join().unwrap();
    // The peer closed: the end of the stream, not a wait.
    assert!(matches!(
        link.recv_timeout::<String>(Duration::from_secs(5)),
        Err(LinkError::Wire(_))
    ));
}

pub fn serving_the_network_without_a_key_is_refused() {
    match Listener::bind(Address::tcp("0.0.0.0:0".parse().unwrap()), None) {
        Err(LinkError::Unsafe(why)) => assert!(why.contains("without an authkey"), "{why}"),
        other => panic!("bound every interface without a key: {other:?}"),
    }
    // On loopback without a key, nothing is asked: Python's default.
    let listener = Listener::bind(loopback(), None).unwrap();
    let address = listener.address().clone();
    let mut peer = Process::start_with_code(move || {
        let mut link = connect(&address, None, Duration::from_secs(5)).unwrap();
        link.send(&7u32).unwrap();
        0
    })
    .unwrap();
    let mut link = listener.accept_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(link.recv_timeout::<u32>(Duration::from_secs(5)).unwrap(), 7);
    assert_eq!(peer.join().unwrap(), 0);
}

/// Runs `ip` with `args` in this process's network namespace.
fn ip(args: &[&str]) -> Result<(), String> {
    let status = std::process::Command::new("ip")
        .args(args)
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("ip: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("ip {} failed: {status}", args.join(" ")))
    }
}

/// Two hosts, each a child in a network namespace of its own joined by a
/// veth pair (nothing is added to this machine's own namespace, and both
/// go with the children). The client sends one message, then its host
/// drops off the network (its link goes down): no FIN ever reaches the
/// server, whose untimed `recv` must still end, within the stated bound.
pub fn a_vanished_peer_is_noticed_within_the_bound() {
    use multiproc::connection::PEER_LOSS_BOUND;
    use nix::sched::{CloneFlags, unshare};
    if !nix::unistd::geteuid().is_root() {
        crate::skip("network namespaces need root");
    }
    if ip(&["-V"]).is_err() {
        crate::skip("iproute2's `ip` is not installed");
    }
    let me = std::process::id();
    let (server_if, client_if) = (format!("mps{me}"), format!("mpc{me}"));
    // A one-way pipe per message between the parent and each child.
    let (mut server_ready, mut server_says) = multiproc::Pipe::one_way().unwrap();
    let (mut client_ready, mut client_says) = multiproc::Pipe::one_way().unwrap();
    let (mut server_go, mut tell_server) = multiproc::Pipe::one_way().unwrap();
    let (mut client_go, mut tell_client) = multiproc::Pipe::one_way().unwrap();
    let (server_name, client_name) = (server_if.clone(), client_if.clone());
    let mut server = Process::start_daemon(move || {
        unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        server_says.send("in a namespace").unwrap();
        let _: String = server_go.recv().unwrap(); // the veth is here
        ip(&["link", "set", "lo", "up"]).unwrap();
        ip(&["addr", "add", "10.231.7.1/30", "dev", &server_name]).unwrap();
        ip(&["link", "set", &server_name, "up"]).unwrap();
        let at = Address::tcp("10.231.7.1:7000".parse().unwrap());
        let listener = Listener::bind(at, Some(KEY)).unwrap();
        server_says.send("listening").unwrap();
        let mut link = listener.accept_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(link.recv::<String>().unwrap(), "hello");
        let started = Instant::now();
        let end = link.recv::<String>();
        let took = started.elapsed();
        server_says
            .send(&(took.as_millis() as u64, format!("{end:?}")))
            .unwrap();
    })
    .unwrap();
    let mut client = Process::start_daemon(move || {
        unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        client_says.send("in a namespace").unwrap();
        let _: String = client_go.recv().unwrap(); // the veth is here
        ip(&["addr", "add", "10.231.7.2/30", "dev", &client_name]).unwrap();
        ip(&["link", "set", &client_name, "up"]).unwrap();
        let _: String = client_go.recv().unwrap(); // the server listens
        let at = Address::tcp("10.231.7.1:7000".parse().unwrap());
        let mut link = connect(&at, Some(KEY), Duration::from_secs(5)).unwrap();
        link.send("hello").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        // This host drops off the network: no FIN, no RST, nothing.
        ip(&["link", "set", &client_name, "down"]).unwrap();
        let _: Result<String, _> = client_go.recv(); // until the parent is done
        drop(link);
    })
    .unwrap();
    assert_eq!(server_ready.recv::<String>().unwrap(), "in a namespace");
    assert_eq!(client_ready.recv::<String>().unwrap(), "in a namespace");
    let (server_pid, client_pid) = (server.pid().to_string(), client.pid().to_string());
    let made = ip(&[
        "link",
        "add",
        &server_if,
        "netns",
        &server_pid,
        "type",
        "veth",
        "peer",
        "name",
        &client_if,
        "netns",
        &client_pid,
    ]);
    if let Err(why) = made {
        crate::skip(&format!("no veth pair here: {why}"));
    }
    tell_server.send("go").unwrap();
    tell_client.send("go").unwrap();
    assert_eq!(server_ready.recv::<String>().unwrap(), "listening");
    tell_client.send("go").unwrap();
    let (took_ms, end): (u64, String) = server_ready.recv().unwrap();
    tell_client.send("done").unwrap();
    assert_eq!(server.join().unwrap(), 0);
    assert_eq!(client.join().unwrap(), 0);
    assert!(
        end.contains("stopped answering"),
        "the server's recv ended with {end}"
    );
    let bound = PEER_LOSS_BOUND + Duration::from_secs(2);
    assert!(
        took_ms >= 3000 && u128::from(took_ms) <= bound.as_millis(),
        "the vanished peer was noticed after {took_ms} ms (bound {bound:?}): {end}"
    );
    println!("a vanished peer was noticed after {took_ms} ms: {end}");
    // Both namespaces went with the children, and the veth pair with them.
    assert!(
        ip(&["link", "show", &server_if]).is_err(),
        "a veth end was left"
    );
}
