//! Two "hosts" on one machine, for lesson 08: each a child process in a
//! network namespace of its own, joined by a veth pair, so that what
//! crosses between them crosses a network (an address of its own, a link
//! that can go down), not loopback. Without root or iproute2 the two run in
//! this machine's namespace and talk over loopback, and [`Network`] says so.
//!
//! Nothing is left behind: a namespace lives as long as its one process,
//! and the veth pair as long as its two namespaces. Both children are
//! daemons (killed with the lesson, however it ends), so the namespaces,
//! the veth pair and the sockets all go with them, even after `SIGKILL`.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use multiproc::{Pipe, Process, RecvEnd, SendEnd};

/// How the two hosts are joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// Each in a network namespace of its own, joined by a veth pair.
    Namespaces,
    /// Both on this machine's loopback, and why no namespaces.
    Loopback(String),
}

impl Network {
    /// One line for the lesson's output.
    pub fn describe(&self) -> String {
        match self {
            Network::Namespaces => {
                "hosts: two network namespaces joined by a veth pair (10.231.8.0/30)".into()
            }
            Network::Loopback(why) => format!("hosts: this machine's loopback ({why})"),
        }
    }
}

/// What a host's code gets: its address, and its network link (so that it
/// can drop off the network).
#[derive(Debug)]
pub struct Host {
    /// This host's address.
    pub ip: Ipv4Addr,
    /// The other host's address.
    pub peer: Ipv4Addr,
    link: Option<String>,
}

impl Host {
    /// Takes this host off the network at once: its link goes down, so no
    /// FIN, no RST, nothing reaches the other host any more.
    ///
    /// # Errors
    /// On loopback (there is no link of this host's own to take down), or
    /// if `ip link set` fails.
    pub fn drop_off_the_network(&self) -> Result<(), String> {
        match &self.link {
            Some(link) => ip(&["link", "set", link, "down"]),
            None => Err("on loopback there is no link of this host's own".into()),
        }
    }
}

/// The two ends of a one-way pipe from one host to the other (or to the
/// lesson's own process), made before the hosts are forked.
pub fn channel() -> (RecvEnd, SendEnd) {
    Pipe::one_way().expect("a pipe")
}

/// Starts two hosts: `a` at 10.231.8.1 and `b` at 10.231.8.2 (or both on
/// 127.0.0.1), each running its code in a daemon child, and returns them
/// with how they are joined. Join both before the lesson goes on.
///
/// # Panics
/// If a child cannot be forked or a pipe made: the lesson cannot go on.
pub fn two_hosts(
    a: impl FnOnce(&Host) + 'static,
    b: impl FnOnce(&Host) + 'static,
) -> (Process, Process, Network) {
    let me = std::process::id();
    let links = [format!("lsn{me}a"), format!("lsn{me}b")];
    let addresses = [Ipv4Addr::new(10, 231, 8, 1), Ipv4Addr::new(10, 231, 8, 2)];
    let network = match namespaces_possible() {
        Ok(()) => Network::Namespaces,
        Err(why) => Network::Loopback(why),
    };
    if let Network::Loopback(_) = network {
        let local = |peer| Host {
            ip: Ipv4Addr::LOCALHOST,
            peer,
            link: None,
        };
        let host_a = Process::start_daemon(move || a(&local(Ipv4Addr::LOCALHOST))).expect("fork");
        let host_b = Process::start_daemon(move || b(&local(Ipv4Addr::LOCALHOST))).expect("fork");
        return (host_a, host_b, network);
    }
    // Each child makes its namespace, says so, waits for its end of the
    // veth pair, brings it up, then runs its code.
    let start = |body: Box<dyn FnOnce(&Host)>, i: usize| {
        let (mut ready, mut says) = channel();
        let (mut go, tell) = channel();
        let host = Host {
            ip: addresses[i],
            peer: addresses[1 - i],
            link: Some(links[i].clone()),
        };
        let process = Process::start_daemon(move || {
            use nix::sched::{CloneFlags, unshare};
            unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
            says.send("in a namespace").expect("the lesson is gone");
            let _: String = go.recv().expect("the lesson is gone");
            let link = host.link.as_deref().expect("a namespace host has a link");
            ip(&["link", "set", "lo", "up"]).expect("lo up");
            ip(&["addr", "add", &format!("{}/30", host.ip), "dev", link]).expect("ip addr add");
            ip(&["link", "set", link, "up"]).expect("link up");
            body(&host);
        })
        .expect("fork");
        let said: String = ready.recv().expect("the host started");
        assert_eq!(said, "in a namespace");
        (process, tell)
    };
    let (host_a, mut tell_a) = start(Box::new(a), 0);
    let (host_b, mut tell_b) = start(Box::new(b), 1);
    let (pid_a, pid_b) = (host_a.pid().to_string(), host_b.pid().to_string());
    ip(&[
        "link", "add", &links[0], "netns", &pid_a, "type", "veth", "peer", "name", &links[1],
        "netns", &pid_b,
    ])
    .expect("a veth pair between the two namespaces");
    tell_a.send("go").expect("host a");
    tell_b.send("go").expect("host b");
    (host_a, host_b, network)
}

/// Why two namespaces cannot be made here, if they cannot.
fn namespaces_possible() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("network namespaces need root".into());
    }
    ip(&["-V"]).map_err(|_| "iproute2's `ip` is not installed".to_string())
}

/// Runs `ip ARGS`; its own messages are dropped, its failure is not.
fn ip(args: &[&str]) -> Result<(), String> {
    let status = Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("ip: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("ip {} failed: {status}", args.join(" ")))
    }
}
