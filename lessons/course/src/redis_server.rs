//! A private `redis-server` for lesson 08: started on a free loopback port
//! with a random password, nothing written to disk, and gone when the lesson
//! ends, however it ends.

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server` of this process's own.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
    password: String,
}

impl RedisServer {
    /// Starts `redis-server` and waits (at most 10 s) until it accepts a
    /// connection. Its settings come on its stdin, the password too: never
    /// on its command line, where `ps` shows it. It saves nothing (no RDB,
    /// no AOF), and is killed with this process (`PR_SET_PDEATHSIG`).
    ///
    /// # Errors
    /// If `redis-server` is not installed (the message names the command
    /// that installs it), or does not listen within 10 s.
    pub fn start() -> Result<RedisServer, String> {
        // A free port: the kernel picks one, and it is handed on at once.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free loopback port: {e}"))?
            .port();
        let password: String = random_hex(16);
        let mut command = Command::new("redis-server");
        command
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Safety: the closure runs in the forked child before exec and only
        // makes one system call (prctl), which is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)
            });
        }
        let mut child = command.spawn().map_err(|e| {
            format!("redis-server is not installed ({e}): apt-get install redis-server")
        })?;
        let config = format!(
            "bind 127.0.0.1\nport {port}\nsave \"\"\nappendonly no\nrequirepass {password}\n"
        );
        let mut stdin = child.stdin.take().expect("piped above");
        let written = stdin.write_all(config.as_bytes());
        drop(stdin);
        let server = RedisServer {
            child,
            port,
            password,
        };
        written.map_err(|e| format!("redis-server did not take its settings: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if Instant::now() > deadline {
                return Err("redis-server did not listen within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(server)
    }

    /// The URL a client opens: loopback, this server's port and password.
    pub fn url(&self) -> String {
        format!("redis://:{}@127.0.0.1:{}/", self.password, self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `bytes` random bytes from the kernel, in hex.
fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    let mut filled = 0;
    while filled < bytes {
        // Safety: `buffer[filled..]` is valid, writable memory of that length.
        let n = unsafe { libc::getrandom(buffer[filled..].as_mut_ptr().cast(), bytes - filled, 0) };
        if n > 0 {
            filled += n as usize;
        }
    }
    buffer.iter().map(|b| format!("{b:02x}")).collect()
}
