//! CLIENT SIDE: the references this process holds on a manager's objects.
//!
//! The server frees an object when the last reference on it goes, as
//! CPython's manager does (`incref`/`decref`). Every proxy value holds one
//! reference, owned by its process's one *reference connection* to that
//! server (one per process and server, beside the proxies' own connections
//! for their requests). The server drops every reference a connection owns
//! when it closes, so a process that dies, however it dies, lets go of all
//! of its references at once.
//!
//! How each way of getting a proxy makes its reference:
//! - made by the manager: `Create` (one round trip, for the id);
//! - cloned: `AddRef`; dropped: `DropRef` (no reply: both are one write,
//!   and a process's requests are served in order);
//! - serialised into a message: `Lend` gives a token (one round trip) for a
//!   reference the message carries; deserialised: `Claim` takes it over
//!   (one round trip). A message that is never read keeps its object until
//!   the sender ends;
//! - copied by `fork`: right after each fork, before `Process::start`
//!   returns, the parent lends the child one reference on every object this
//!   process knows, for as long as the child lives (one round trip; the
//!   server watches the child's pidfd). The copies in the child hold no
//!   reference of their own, and drop none.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::fd::AsRawFd;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, send};

use super::ManagerError;
use super::protocol::{Endpoint, Kind, Reply, Request};
use super::proxy::{connect, unexpected};
use crate::connection::Stream;
use crate::process::fork::{ParentOnly, own_pid};
use crate::wire::{self, FrameReader, WireError};

/// How long a reference request that needs a reply (`Create`, `Lend`,
/// `Count`) waits for it before the call fails as unresponsive.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// This process's references, by server.
static HOLDERS: Mutex<BTreeMap<Endpoint, Holder>> = Mutex::new(BTreeMap::new());

fn holders() -> MutexGuard<'static, BTreeMap<Endpoint, Holder>> {
    // A panic while the lock was held leaves plain maps behind: still valid.
    HOLDERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// One process's references on one server's objects.
#[derive(Default)]
struct Holder {
    /// The process these references belong to: a forked child finds its
    /// parent's here, and starts its own.
    owner: u32,
    /// The reference connection, made on first need. `ParentOnly`: a child
    /// forked while it is open closes its copy, so the server sees it close
    /// only when this process ends.
    connection: Option<(ParentOnly<Stream>, FrameReader)>,
    /// The tail of requests without a reply that the socket did not take
    /// yet (the server is stopped or slow): sent before anything else.
    pending: Vec<u8>,
    /// Replies still to come for round trips that gave up waiting: skipped
    /// before the next reply is read.
    owed: usize,
    /// How many references this process's proxies hold, by object.
    held: HashMap<u64, usize>,
    /// Objects of proxies this process got by fork: the parent lent it a
    /// reference on each for its life.
    inherited: HashSet<u64>,
}

/// The holder for `server`, made new in a process that has none yet (a
/// forked child starts from its parent's list: what the parent held, the
/// child inherited).
fn holder<'a>(all: &'a mut BTreeMap<Endpoint, Holder>, server: &Endpoint) -> &'a mut Holder {
    let me = own_pid();
    let holder = all.entry(server.clone()).or_default();
    if holder.owner != me {
        let parents = std::mem::take(holder);
        holder.owner = me;
        holder.inherited = parents.inherited;
        holder.inherited.extend(parents.held.into_keys());
        // The parent's connection was closed here at the fork (ParentOnly),
        // and dropping it closes nothing.
        drop(parents.connection);
    }
    holder
}

impl Holder {
    fn stream(
        &mut self,
        server: &Endpoint,
    ) -> Result<&mut (ParentOnly<Stream>, FrameReader), ManagerError> {
        if self.connection.is_none() {
            let deadline = Instant::now() + REPLY_TIMEOUT;
            let (stream, reader) = connect(server, Some(deadline))?;
            self.connection = Some((ParentOnly::new(stream), reader));
            self.pending.clear();
            self.owed = 0;
        }
        Ok(self.connection.as_mut().expect("connected above"))
    }

    /// Sends a request that gets no reply, without waiting: what the socket
    /// does not take now waits in `pending`. False if it cannot be sent (no
    /// server to send it to).
    fn send_only(&mut self, server: &Endpoint, request: &Request) -> bool {
        let Ok(frame) = wire::encode_frame(request) else {
            return false;
        };
        if self.stream(server).is_err() {
            return false;
        }
        self.pending.extend_from_slice(&frame);
        match self.flush(None) {
            Ok(()) => true,
            Err(_) => {
                // The server hung up: it is gone, and our references with it.
                self.connection = None;
                false
            }
        }
    }

    /// Writes what is pending: only what the socket takes now (`None`), or
    /// all of it by `deadline`.
    fn flush(&mut self, deadline: Option<Instant>) -> std::io::Result<()> {
        let Some((stream, _)) = self.connection.as_mut() else {
            return Err(std::io::ErrorKind::NotConnected.into());
        };
        let fd = stream.as_raw_fd();
        while !self.pending.is_empty() {
            let mut flags = MsgFlags::MSG_NOSIGNAL;
            if deadline.is_none() {
                flags |= MsgFlags::MSG_DONTWAIT;
            } else {
                let left = deadline
                    .map(|d| d.saturating_duration_since(Instant::now()))
                    .filter(|left| !left.is_zero())
                    .ok_or(std::io::ErrorKind::TimedOut)?;
                stream.set_write_timeout(Some(left))?;
            }
            match send(fd, &self.pending, flags) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) if deadline.is_none() => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Sends `request` and waits for its reply, at most [`REPLY_TIMEOUT`].
    /// A reply that does not come in time is skipped when it comes later:
    /// the connection, and with it every reference of this process, stays.
    fn round_trip(&mut self, server: &Endpoint, request: &Request) -> Result<Reply, ManagerError> {
        let frame = wire::encode_frame(request).map_err(ManagerError::Wire)?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        self.stream(server)?;
        self.pending.extend_from_slice(&frame);
        let gone = |cause| ManagerError::Gone {
            during: "a reference request".into(),
            cause,
        };
        let unresponsive = ManagerError::Unresponsive {
            during: "a reference request".into(),
            waited: REPLY_TIMEOUT,
        };
        match self.flush(Some(deadline)) {
            Ok(()) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::TimedOut
                    || e.kind() == std::io::ErrorKind::WouldBlock =>
            {
                self.owed += 1;
                return Err(unresponsive);
            }
            Err(e) => {
                self.connection = None;
                return Err(gone(WireError::Io(e)));
            }
        }
        loop {
            let (stream, reader) = self.connection.as_mut().expect("flushed above");
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            let stream: &mut Stream = stream;
            let got = stream
                .set_read_timeout(Some(left))
                .map_err(WireError::Io)
                .and_then(|()| reader.recv_value::<Reply>(stream));
            match got {
                Ok(_) if self.owed > 0 => self.owed -= 1,
                Ok(reply) => return Ok(reply),
                Err(WireError::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    self.owed += 1;
                    return Err(unresponsive);
                }
                Err(e) => {
                    self.connection = None;
                    return Err(gone(e));
                }
            }
        }
    }

    fn count_in(&mut self, id: u64) {
        *self.held.entry(id).or_default() += 1;
    }

    fn count_out(&mut self, id: u64) {
        if let Some(n) = self.held.get_mut(&id) {
            *n -= 1;
            if *n == 0 {
                self.held.remove(&id);
            }
        }
    }
}

/// A new object in the server, with this process's first reference on it.
pub(super) fn create(server: &Endpoint, kind: Kind) -> Result<u64, ManagerError> {
    let mut all = holders();
    let holder = holder(&mut all, server);
    match holder.round_trip(server, &Request::Create(kind))? {
        Reply::Created(id) => {
            holder.count_in(id);
            Ok(id)
        }
        other => Err(unexpected(other)),
    }
}

/// One more reference on `id` (a proxy cloned). False if there is no
/// server to tell.
pub(super) fn add(server: &Endpoint, id: u64) -> bool {
    let mut all = holders();
    let holder = holder(&mut all, server);
    let sent = holder.send_only(server, &Request::AddRef(id));
    if sent {
        holder.count_in(id);
    }
    sent
}

/// One reference on `id` less (a proxy dropped).
pub(super) fn release(server: &Endpoint, id: u64) {
    let mut all = holders();
    let holder = holder(&mut all, server);
    holder.count_out(id);
    // A server that is gone has let go already.
    let _ = holder.send_only(server, &Request::DropRef(id));
}

/// A reference on `id` for the message a proxy is serialised into: the
/// token that whoever deserialises it claims it with. `None` if the server
/// does not answer (the reader then asks for a reference of its own).
pub(super) fn lend(server: &Endpoint, id: u64) -> Option<u64> {
    let mut all = holders();
    match holder(&mut all, server).round_trip(server, &Request::Lend(id)) {
        Ok(Reply::Token(token)) => Some(token),
        _ => None,
    }
}

/// Takes over the reference lent under `token` (0: none was lent, so a new
/// one), and waits until the server has: the sender may end as soon as
/// its message is read. False if there is no server to tell.
pub(super) fn claim(server: &Endpoint, id: u64, token: u64) -> bool {
    let mut all = holders();
    let holder = holder(&mut all, server);
    let held = match holder.round_trip(server, &Request::Claim { id, token }) {
        Ok(_) => true,
        // Not answered yet: the claim is made when the server gets to it.
        Err(ManagerError::Unresponsive { .. }) => true,
        Err(_) => false,
    };
    if held {
        holder.count_in(id);
    }
    held
}

/// References lent to the child about to be forked, on servers reached
/// over TCP: such a server (perhaps on another machine) cannot watch the
/// child, so the parent lends a token per object before the fork, and the
/// child takes them over as it starts ([`claim_after_fork`]). What the
/// child does not claim stays the parent's until the parent ends.
static FORK_LOAN: Mutex<Vec<(Endpoint, u64, u64)>> = Mutex::new(Vec::new());

fn fork_loan() -> MutexGuard<'static, Vec<(Endpoint, u64, u64)>> {
    FORK_LOAN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Called in the parent just before a fork: lends the child-to-be one
/// reference on every object of a server reached over TCP whose proxies it
/// will copy. Nothing to do (no request sent) without such proxies.
pub(crate) fn lend_before_fork() {
    let mut all = holders();
    let servers: Vec<Endpoint> = all
        .keys()
        .filter(|server| matches!(server, Endpoint::Tcp(_)))
        .cloned()
        .collect();
    let mut loan = Vec::new();
    for server in servers {
        let holder = holder(&mut all, &server);
        let ids: HashSet<u64> = holder
            .held
            .keys()
            .chain(&holder.inherited)
            .copied()
            .collect();
        for id in ids {
            if let Ok(Reply::Token(token)) = holder.round_trip(&server, &Request::Lend(id)) {
                loan.push((server.clone(), id, token));
            }
        }
    }
    *fork_loan() = loan;
}

/// Called in the parent after the fork (or after it failed): the tokens
/// are the child's to claim now.
pub(crate) fn forget_fork_loan() {
    fork_loan().clear();
}

/// Called in a freshly forked child: takes over the references its parent
/// lent it on servers reached over TCP, for as long as it lives.
pub(crate) fn claim_after_fork() {
    let loan = std::mem::take(&mut *fork_loan());
    for (server, id, token) in loan {
        claim(&server, id, token);
    }
}

/// How many objects `server` holds.
pub(super) fn count(server: &Endpoint) -> Result<usize, ManagerError> {
    let mut all = holders();
    match holder(&mut all, server).round_trip(server, &Request::Count)? {
        Reply::Count(n) => Ok(n as usize),
        other => Err(unexpected(other)),
    }
}

/// Forgets the references on `server`: it was shut down.
pub(super) fn forget(server: &Endpoint) {
    holders().remove(server);
}

/// Called in the parent right after it forked `child`: lends the child one
/// reference on every object whose proxies it may have copied, for as long
/// as it lives. Nothing to do (and no connection made) in a process that
/// holds no proxies.
pub(crate) fn lend_to_child(child: i32) {
    let mut all = holders();
    // Only a server on this machine can watch the child (by its pidfd): a
    // child of a process that reached a manager over TCP holds no
    // reference of its own, and borrows its parent's.
    let servers: Vec<Endpoint> = all
        .keys()
        .filter(|server| matches!(server, Endpoint::Unix(_)))
        .cloned()
        .collect();
    for server in servers {
        let holder = holder(&mut all, &server);
        let ids: Vec<u64> = holder
            .held
            .keys()
            .chain(&holder.inherited)
            .copied()
            .collect::<HashSet<u64>>()
            .into_iter()
            .collect();
        if ids.is_empty() {
            continue;
        }
        // Answered before the parent goes on: until then the references
        // are only the parent's, which may drop them or end. A server that
        // is gone has nothing left to lend.
        let _ = holder.round_trip(&server, &Request::LendToChild { pid: child, ids });
    }
}
