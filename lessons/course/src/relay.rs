//! A delaying relay for lesson 08: a process in a host's path that holds
//! every chunk of bytes for a fixed delay in each direction before passing
//! it on, as a long network would. The kernel's `netem` does the same below
//! TCP; this works on kernels without it, and without root.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use multiproc::Process;

/// A relay process, and the address it listens on.
#[derive(Debug)]
pub struct Relay {
    /// The relay's process (a daemon: it dies with its parent).
    pub process: Process,
    /// Where clients connect instead of `target`.
    pub address: SocketAddr,
}

/// Forks a relay that listens on `listen` (port 0: any free one) and, for
/// each client, connects to `target` and passes the bytes both ways, each
/// chunk `delay` after it arrived. Must be called while this process is
/// single-threaded (it forks); the relay's own threads live in the child.
///
/// # Panics
/// If the listener cannot be bound or the relay forked.
pub fn start(listen: SocketAddr, target: SocketAddr, delay: Duration) -> Relay {
    let listener = TcpListener::bind(listen).expect("bind the relay");
    let address = listener.local_addr().expect("the relay's address");
    let process = Process::start_daemon(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(target) else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (Ok(client_in), Ok(server_in)) = (client.try_clone(), server.try_clone()) else {
                continue;
            };
            std::thread::spawn(move || pass_on(client_in, server, delay));
            std::thread::spawn(move || pass_on(server_in, client, delay));
        }
    })
    .expect("fork the relay");
    Relay { process, address }
}

/// Reads chunks from `from` and writes each to `to` once `delay` has passed
/// since it arrived, in order; the end of stream is passed on the same way.
fn pass_on(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (held, due) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = std::thread::spawn(move || {
        for (arrived, chunk) in due {
            let at = arrived + delay;
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
            if chunk.is_empty() || to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => 0,
        };
        if held.send((Instant::now(), buffer[..n].to_vec())).is_err() || n == 0 {
            break;
        }
    }
    drop(held);
    let _ = writer.join();
}
