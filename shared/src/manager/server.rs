//! SERVER PROCESS: everything here runs in the forked manager server, which
//! serves each connection on its own thread (it never forks again).

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigHandler, Signal};
use nix::sys::socket::{getsockopt, sockopt};
use nix::unistd::geteuid;

use super::protocol::{DictOp, Kind, LockOp, QueueOp, Reply, Request};
use crate::auth::{self, peer_uid};
use crate::connection::{Stream, tune_tcp};
use crate::process::authkey::authkey;
use crate::process::fork::close_other_fds;
use crate::sys::{Spinner, deadline_after, pidfd_open, poll_readable};
use crate::wire::{self, FrameReader, WireError};

mod table;

use table::{Object, Table};

struct Objects {
    table: Mutex<Table>,
    /// Notified whenever a queue or a lock changes, or an object is freed.
    changed: Condvar,
    /// Ids of objects, of tokens, and of reference owners (connections and
    /// forked children), from one counter: none is ever used twice.
    next_id: AtomicU64,
}

impl Objects {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn new_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::SeqCst)
    }
}

/// What the server needs from the process that starts it.
pub(super) struct Start {
    pub(super) listener: UnixListener,
    /// Written once the server serves.
    pub(super) ready: std::io::PipeWriter,
    /// End of stream here means the owner is gone: clean up and leave.
    pub(super) life: std::io::PipeReader,
    pub(super) dir: PathBuf,
    pub(super) socket: PathBuf,
    /// A TCP listener too, and the key its clients must prove they know.
    pub(super) tcp: Option<(TcpListener, [u8; 32])>,
}

/// The server's whole life. Runs in the forked child; returns its exit code.
pub(super) fn serve(start: Start) -> i32 {
    let Start {
        listener,
        mut ready,
        life,
        dir,
        socket,
        tcp,
    } = start;
    // Ctrl-C and SIGTERM go to the owner; the server goes when the owner
    // does (below), and cleans up first. CPython's server ignores SIGINT.
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // Safety: SIG_IGN installs no handler code.
        let _ = unsafe { nix::sys::signal::signal(signal, SigHandler::SigIgn) };
    }
    // Nothing of the owner's stays open here (a pipe end of theirs held by
    // the server would keep the owner's readers from ever seeing end of
    // stream).
    let mut keep = vec![listener.as_raw_fd(), ready.as_raw_fd(), life.as_raw_fd()];
    keep.extend(tcp.as_ref().map(|(l, _)| l.as_raw_fd()));
    close_other_fds(&keep);
    let cleanup = Arc::new(Cleanup { dir, socket });
    let watcher = Arc::clone(&cleanup);
    let watching = std::thread::Builder::new().spawn(move || {
        let mut byte = [0u8];
        // Nothing is ever written: this returns when the owner is gone (a
        // signal that interrupts the read is not that).
        while let Err(e) = (&life).read(&mut byte) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                break;
            }
        }
        watcher.remove_and_exit();
    });
    if watching.is_err() || ready.write_all(b"!").is_err() {
        cleanup.remove_and_exit();
    }
    drop(ready);
    let objects = Arc::new(Objects {
        table: Mutex::new(Table::default()),
        changed: Condvar::new(),
        next_id: AtomicU64::new(1),
    });
    if let Some((listener, key)) = tcp {
        let (objects, for_tcp) = (Arc::clone(&objects), Arc::clone(&cleanup));
        let serving = std::thread::Builder::new()
            .spawn(move || serve_tcp(&listener, key, &objects, &for_tcp));
        if serving.is_err() {
            cleanup.remove_and_exit();
        }
    }
    let me = geteuid().as_raw();
    accept_each(listener.incoming(), "a connection", |stream| {
        match peer_uid(&stream) {
            Some(uid) if uid == me => {}
            other => {
                eprintln!(
                    "multiproc manager: refused a connection from uid {other:?} (only uid {me} may connect)"
                );
                return;
            }
        }
        // The process at the other end, to lend its children references.
        let peer = getsockopt(&stream, sockopt::PeerCredentials).map_or(0, |c| c.pid());
        let client = Client {
            stream: Stream::Unix(stream),
            key: *authkey(),
            peer,
        };
        spawn_connection(client, &objects, &cleanup);
    });
    0
}

/// Hands each accepted connection to `serve`, for as long as the listener
/// lives. Out of descriptors (EMFILE), accept would fail again at once:
/// it waits for a connection to close instead, and says so once.
fn accept_each<S>(
    incoming: impl Iterator<Item = std::io::Result<S>>,
    what: &str,
    mut serve: impl FnMut(S),
) {
    let mut said_out_of_fds = false;
    for stream in incoming {
        match stream {
            Ok(stream) => {
                said_out_of_fds = false;
                serve(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                if !said_out_of_fds {
                    eprintln!("multiproc manager: cannot accept {what} ({e}); waiting");
                    said_out_of_fds = true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Accepts TCP clients for as long as the server lives; each one's
/// handshake and requests run on a thread of its own.
fn serve_tcp(
    listener: &TcpListener,
    key: [u8; 32],
    objects: &Arc<Objects>,
    cleanup: &Arc<Cleanup>,
) {
    accept_each(listener.incoming(), "a TCP connection", |stream| {
        // No Nagle delay, and a vanished peer noticed (keepalive): without
        // it, a lock held by a client whose host went away stays held.
        if tune_tcp(&stream).is_err() {
            return;
        }
        // A remote process's pid means nothing here: it lends no children.
        let client = Client {
            stream: Stream::Tcp(stream),
            key,
            peer: 0,
        };
        spawn_connection(client, objects, cleanup);
    });
}

/// A client's connection before its handshake, and what it must prove.
struct Client {
    stream: Stream,
    key: [u8; 32],
    /// Its process id, for a client on this machine (`SO_PEERCRED`); 0
    /// for TCP.
    peer: i32,
}

/// Serves `client` on a thread of its own; if no thread can be made (out
/// of threads: RLIMIT_NPROC, a pids cgroup), refuses it and goes on.
fn spawn_connection(client: Client, objects: &Arc<Objects>, cleanup: &Arc<Cleanup>) {
    let (objects, connection) = (Arc::clone(objects), objects.new_id());
    let (cleanup, spare) = (Arc::clone(cleanup), client.stream.try_clone());
    let spawned = std::thread::Builder::new()
        .spawn(move || serve_connection(client, &objects, connection, &cleanup));
    if let Err(e) = spawned
        && let Ok(mut stream) = spare
    {
        auth::refuse(
            &mut stream,
            format!("the manager cannot serve another connection now: {e}"),
        );
    }
}

/// What the server removes when it goes: its socket and its directory.
struct Cleanup {
    dir: PathBuf,
    socket: PathBuf,
}

impl Cleanup {
    fn remove_and_exit(&self) -> ! {
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_dir(&self.dir);
        crate::process::fork::exit_child(0);
    }
}

/// Serves one connection until it closes or sends something malformed,
/// once it has proved it knows the authkey.
/// How long a connection's thread looks for the next request after a reply
/// before it sleeps until one comes.
const REQUEST_SPIN: Duration = Duration::from_micros(30);

fn serve_connection(client: Client, objects: &Arc<Objects>, connection: u64, cleanup: &Cleanup) {
    let Client {
        mut stream,
        key,
        peer,
    } = client;
    let mut reader = FrameReader::new();
    let _ = stream.set_read_timeout(Some(auth::HANDSHAKE_TIMEOUT));
    if let Err(e) = auth::server_side(
        &mut stream,
        &mut reader,
        &key,
        Instant::now() + auth::HANDSHAKE_TIMEOUT,
    ) {
        if let auth::HandshakeError::WrongKey(why) = e {
            eprintln!("multiproc manager: refused {why}");
        }
        return;
    }
    let _ = stream.set_read_timeout(None);
    let mut spinner = Spinner::default();
    loop {
        // A client often sends its next request within µs of the last
        // reply: look for it before sleeping (see `spin_until_readable`).
        if !reader.has_frame() {
            spinner.look(stream.as_fd(), REQUEST_SPIN);
        }
        let request: Request = match reader.recv_value(&mut stream) {
            Ok(request) => request,
            Err(WireError::Eof) => break,
            Err(e) => {
                // Malformed, oversize or unknown: say so, then hang up.
                let _ = wire::send_value(
                    &mut stream,
                    &Reply::Error(format!("bad request, closing the connection: {e}")),
                );
                break;
            }
        };
        let reply = match handle(request, objects, connection, peer) {
            Outcome::Reply(reply) => reply,
            Outcome::Nothing => continue,
            Outcome::Shutdown => {
                // The owner asked the server to stop: say done, then go.
                let _ = wire::send_value(&mut stream, &Reply::Done);
                cleanup.remove_and_exit();
            }
        };
        // A reply over the frame limit gets an error that says so, not a
        // silent hang-up that looks like a dead server.
        let frame = wire::encode_frame(&reply).or_else(|e| {
            wire::encode_frame(&Reply::Error(format!("the reply cannot be sent: {e}")))
        });
        if frame
            .and_then(|f| stream.write_all(&f).map_err(WireError::Io))
            .is_err()
        {
            break;
        }
    }
    // The connection is gone: so is any lock it held, and every reference
    // it owned (its process ended, or dropped its last proxy).
    let mut table = objects.lock();
    for object in table.objects.values_mut() {
        if let Object::Lock { holder } = object
            && *holder == Some(connection)
        {
            *holder = None;
        }
    }
    table.drop_owner(connection);
    objects.changed.notify_all();
}

/// What a request gets back.
enum Outcome {
    Reply(Reply),
    /// A request that has no reply (a reference added or dropped).
    Nothing,
    /// [`Request::Shutdown`]: the connection's loop answers and ends the
    /// server.
    Shutdown,
}

fn handle(request: Request, objects: &Arc<Objects>, connection: u64, peer: i32) -> Outcome {
    let mut table = objects.lock();
    Outcome::Reply(match request {
        Request::Create(kind) => {
            let id = objects.new_id();
            let object = match kind {
                Kind::Dict => Object::Dict(HashMap::new()),
                Kind::Queue { maxsize } => Object::Queue {
                    items: VecDeque::new(),
                    maxsize: maxsize as usize,
                },
                Kind::Lock => Object::Lock { holder: None },
            };
            table.objects.insert(id, object);
            table.add_ref(connection, id);
            Reply::Created(id)
        }
        Request::AddRef(id) => {
            table.add_ref(connection, id);
            return Outcome::Nothing;
        }
        Request::DropRef(id) => {
            if table.drop_ref(connection, id) {
                objects.changed.notify_all();
            }
            return Outcome::Nothing;
        }
        Request::Lend(id) => {
            if !table.add_ref(connection, id) {
                return Outcome::Reply(no_such(id, "object"));
            }
            let token = objects.new_id();
            table.tokens.insert(token, (connection, id));
            Reply::Token(token)
        }
        Request::Claim { id, token } => {
            table.claim(connection, id, token);
            Reply::Done
        }
        Request::LendToChild { pid, ids } => {
            drop(table);
            lend_to_child(objects, peer, pid, &ids);
            Reply::Done
        }
        Request::Count => Reply::Count(table.objects.len() as u64),
        Request::Dict(id, op) => match table.objects.get_mut(&id) {
            Some(Object::Dict(dict)) => dict_op(dict, op),
            _ => no_such(id, "dict"),
        },
        Request::Queue(id, op) => {
            if !matches!(table.objects.get(&id), Some(Object::Queue { .. })) {
                return Outcome::Reply(no_such(id, "queue"));
            }
            queue_op(table, objects, id, op)
        }
        Request::Lock(id, op) => {
            if !matches!(table.objects.get(&id), Some(Object::Lock { .. })) {
                return Outcome::Reply(no_such(id, "lock"));
            }
            lock_op(table, objects, id, op, connection)
        }
        // Only the owner's tree, on this machine, may stop the server.
        Request::Shutdown if peer == 0 => {
            Reply::Error("a client over TCP may not shut the manager down".into())
        }
        Request::Shutdown => return Outcome::Shutdown,
    })
}

/// Holds one reference on each of `ids` for as long as the child `pid` of
/// the process `parent` lives: a thread waits on the child's pidfd, then
/// drops them. The child was forked a moment ago and its parent has not
/// reaped it, so its pid still names it (a pid whose parent is not
/// `parent` is not it, and gets nothing). If no thread can be made, the
/// references stay: an object kept too long is better than one freed under
/// a live proxy.
fn lend_to_child(objects: &Arc<Objects>, parent: i32, pid: i32, ids: &[u64]) {
    if parent == 0 {
        return; // A client over TCP: its pids are another machine's.
    }
    let Some(pidfd) = pidfd_open(pid) else {
        return; // Ended and reaped already: it holds nothing any more.
    };
    if parent_of(pid) != Some(parent) {
        return;
    }
    let owner = objects.new_id();
    {
        let mut table = objects.lock();
        for &id in ids {
            table.add_ref(owner, id);
        }
    }
    let objects = Arc::clone(objects);
    let _ = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            let _ = poll_readable(&[pidfd.as_raw_fd()], None);
            let mut table = objects.lock();
            if table.drop_owner(owner) {
                objects.changed.notify_all();
            }
        });
}

/// The parent pid of `pid`: field 4 of `/proc/<pid>/stat`.
fn parent_of(pid: i32) -> Option<i32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = text.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn no_such(id: u64, kind: &str) -> Reply {
    Reply::Error(format!("there is no {kind} with id {id} in this manager"))
}

fn dict_op(dict: &mut HashMap<String, Vec<u8>>, op: DictOp) -> Reply {
    match op {
        DictOp::Get(key) => Reply::Value(dict.get(&key).cloned()),
        DictOp::Set(key, value) => {
            dict.insert(key, value);
            Reply::Done
        }
        DictOp::Delete(key) => Reply::Bool(dict.remove(&key).is_some()),
        DictOp::Contains(key) => Reply::Bool(dict.contains_key(&key)),
        DictOp::Len => Reply::Count(dict.len() as u64),
        DictOp::Keys => {
            let mut keys: Vec<String> = dict.keys().cloned().collect();
            keys.sort();
            Reply::Keys(keys)
        }
        DictOp::Items => {
            let mut items: Vec<(String, Vec<u8>)> =
                dict.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            items.sort();
            Reply::Items(items)
        }
        DictOp::Update(entries) => {
            dict.extend(entries);
            Reply::Done
        }
        DictOp::Pop(key) => Reply::Value(dict.remove(&key)),
        DictOp::Clear => {
            dict.clear();
            Reply::Done
        }
        DictOp::Add(key, delta) => {
            let current: i64 = match dict.get(&key) {
                None => 0,
                Some(bytes) => match postcard::from_bytes(bytes) {
                    Ok(n) => n,
                    Err(_) => {
                        return Reply::Error(format!("the value under {key:?} is not an integer"));
                    }
                },
            };
            let new = current.wrapping_add(delta);
            dict.insert(
                key,
                postcard::to_allocvec(&new).expect("an i64 always encodes"),
            );
            Reply::Int(new)
        }
    }
}

/// Waits on `changed` until `ready` says the object can proceed, or until
/// the deadline. Returns the guard and whether it is ready.
fn wait_for<'a>(
    mut table: MutexGuard<'a, Table>,
    objects: &'a Objects,
    timeout_ms: Option<u64>,
    ready: impl Fn(&HashMap<u64, Object>) -> bool,
) -> (MutexGuard<'a, Table>, bool) {
    let deadline = timeout_ms.and_then(|ms| deadline_after(Duration::from_millis(ms)));
    loop {
        if ready(&table.objects) {
            return (table, true);
        }
        match deadline {
            None => {
                table = objects
                    .changed
                    .wait(table)
                    .unwrap_or_else(|p| p.into_inner())
            }
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return (table, false);
                }
                table = objects
                    .changed
                    .wait_timeout(table, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
    }
}

fn queue_op(table: MutexGuard<'_, Table>, objects: &Objects, id: u64, op: QueueOp) -> Reply {
    // `None` once the queue is gone: freed while this request waited (its
    // last reference dropped), which ends the wait.
    let queue_len = |t: &HashMap<u64, Object>| match t.get(&id) {
        Some(Object::Queue { items, maxsize }) => Some((items.len(), *maxsize)),
        _ => None,
    };
    match op {
        QueueOp::Put(item, timeout) => {
            let (mut table, ready) = wait_for(table, objects, timeout, |t| {
                queue_len(t).is_none_or(|(len, maxsize)| maxsize == 0 || len < maxsize)
            });
            if !ready {
                return Reply::Full;
            }
            let Some(Object::Queue { items, .. }) = table.objects.get_mut(&id) else {
                return no_such(id, "queue");
            };
            items.push_back(item);
            objects.changed.notify_all();
            Reply::Done
        }
        QueueOp::Get(timeout) => {
            let (mut table, ready) = wait_for(table, objects, timeout, |t| {
                queue_len(t).is_none_or(|(len, _)| len > 0)
            });
            if !ready {
                return Reply::Empty;
            }
            let Some(Object::Queue { items, .. }) = table.objects.get_mut(&id) else {
                return no_such(id, "queue");
            };
            let item = items.pop_front();
            objects.changed.notify_all();
            Reply::Value(item)
        }
        QueueOp::Qsize => Reply::Count(queue_len(&table.objects).map_or(0, |(len, _)| len) as u64),
    }
}

fn lock_op(
    table: MutexGuard<'_, Table>,
    objects: &Objects,
    id: u64,
    op: LockOp,
    connection: u64,
) -> Reply {
    match op {
        LockOp::Acquire(timeout) => {
            let (mut table, ready) = wait_for(table, objects, timeout, |t| {
                !matches!(t.get(&id), Some(Object::Lock { holder: Some(_) }))
            });
            if !ready {
                return Reply::Timeout;
            }
            let Some(Object::Lock { holder }) = table.objects.get_mut(&id) else {
                return no_such(id, "lock");
            };
            *holder = Some(connection);
            Reply::Done
        }
        LockOp::Release => {
            let mut table = table;
            match table.objects.get_mut(&id) {
                Some(Object::Lock { holder }) if *holder == Some(connection) => {
                    *holder = None;
                    objects.changed.notify_all();
                    Reply::Done
                }
                _ => Reply::Error("release of a lock this connection does not hold".into()),
            }
        }
    }
}
