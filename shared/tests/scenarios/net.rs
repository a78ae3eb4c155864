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
