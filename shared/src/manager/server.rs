//! SERVER PROCESS: everything here runs in the forked manager server, which
//! serves each connection on its own thread (it never forks again).

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::sys::socket::{getsockopt, sockopt};
use nix::unistd::{geteuid, getppid};

use super::protocol::{DictOp, Kind, LockOp, QueueOp, Reply, Request};
use crate::sys::deadline_after;
use crate::wire::{self, FrameReader, WireError};

enum Object {
    Dict(HashMap<String, Vec<u8>>),
    Queue {
        items: VecDeque<Vec<u8>>,
        maxsize: usize,
    },
    Lock {
        holder: Option<u64>,
    },
}

struct Objects {
    table: Mutex<HashMap<u64, Object>>,
    /// Notified whenever a queue or a lock changes.
    changed: Condvar,
    next_id: AtomicU64,
}

impl Objects {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Object>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The server's whole life. Runs in the forked child; returns its exit code.
pub(super) fn serve(listener: UnixListener, mut ready: std::io::PipeWriter, parent: u32) -> i32 {
    // Die with the parent, so a crashed parent does not leave the server
    // behind; and if the parent is already gone, leave now.
    let _ = prctl::set_pdeathsig(Signal::SIGKILL);
    if getppid().as_raw().cast_unsigned() != parent {
        return 0;
    }
    let objects = Arc::new(Objects {
        table: Mutex::new(HashMap::new()),
        changed: Condvar::new(),
        next_id: AtomicU64::new(1),
    });
    if ready.write_all(b"!").is_err() {
        return 1;
    }
    drop(ready);
    let me = geteuid().as_raw();
    let mut next_connection = 0u64;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        match peer_uid(&stream) {
            Some(uid) if uid == me => {}
            other => {
                eprintln!(
                    "multiproc manager: refused a connection from uid {other:?} (only uid {me} may connect)"
                );
                continue;
            }
        }
        next_connection += 1;
        let (objects, connection) = (Arc::clone(&objects), next_connection);
        std::thread::spawn(move || serve_connection(stream, &objects, connection));
    }
    0
}

/// The uid of the process at the other end of `stream` (`SO_PEERCRED`, see
/// unix(7)).
fn peer_uid(stream: &UnixStream) -> Option<u32> {
    getsockopt(stream, sockopt::PeerCredentials)
        .ok()
        .map(|cred| cred.uid())
}

/// Serves one connection until it closes or sends something malformed.
fn serve_connection(mut stream: UnixStream, objects: &Objects, connection: u64) {
    let mut reader = FrameReader::new();
    loop {
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
        if matches!(request, Request::Shutdown) {
            let _ = wire::send_value(&mut stream, &Reply::Done);
            crate::process::fork::exit_child(0);
        }
        let reply = handle(request, objects, connection);
        if wire::send_value(&mut stream, &reply).is_err() {
            break;
        }
    }
    // The connection is gone: so is any lock it held.
    let mut table = objects.lock();
    for object in table.values_mut() {
        if let Object::Lock { holder } = object
            && *holder == Some(connection)
        {
            *holder = None;
        }
    }
    objects.changed.notify_all();
}

fn handle(request: Request, objects: &Objects, connection: u64) -> Reply {
    let mut table = objects.lock();
    match request {
        Request::Create(kind) => {
            let id = objects.next_id.fetch_add(1, Ordering::SeqCst);
            let object = match kind {
                Kind::Dict => Object::Dict(HashMap::new()),
                Kind::Queue { maxsize } => Object::Queue {
                    items: VecDeque::new(),
                    maxsize: maxsize as usize,
                },
                Kind::Lock => Object::Lock { holder: None },
            };
            table.insert(id, object);
            Reply::Created(id)
        }
        Request::Dict(id, op) => match table.get_mut(&id) {
            Some(Object::Dict(dict)) => dict_op(dict, op),
            _ => no_such(id, "dict"),
        },
        Request::Queue(id, op) => {
            if !matches!(table.get(&id), Some(Object::Queue { .. })) {
                return no_such(id, "queue");
            }
            queue_op(table, objects, id, op)
        }
        Request::Lock(id, op) => {
            if !matches!(table.get(&id), Some(Object::Lock { .. })) {
                return no_such(id, "lock");
            }
            lock_op(table, objects, id, op, connection)
        }
        Request::Shutdown => Reply::Done,
    }
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
    mut table: MutexGuard<'a, HashMap<u64, Object>>,
    objects: &'a Objects,
    timeout_ms: Option<u64>,
    ready: impl Fn(&HashMap<u64, Object>) -> bool,
) -> (MutexGuard<'a, HashMap<u64, Object>>, bool) {
    let deadline = timeout_ms.and_then(|ms| deadline_after(Duration::from_millis(ms)));
    loop {
        if ready(&table) {
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

fn queue_op(
    table: MutexGuard<'_, HashMap<u64, Object>>,
    objects: &Objects,
    id: u64,
    op: QueueOp,
) -> Reply {
    let queue_len = |t: &HashMap<u64, Object>| match t.get(&id) {
        Some(Object::Queue { items, maxsize }) => (items.len(), *maxsize),
        _ => (0, 0),
    };
    match op {
        QueueOp::Put(item, timeout) => {
            let (mut table, ready) = wait_for(table, objects, timeout, |t| {
                let (len, maxsize) = queue_len(t);
                maxsize == 0 || len < maxsize
            });
            if !ready {
                return Reply::Full;
            }
            if let Some(Object::Queue { items, .. }) = table.get_mut(&id) {
                items.push_back(item);
            }
            objects.changed.notify_all();
            Reply::Done
        }
        QueueOp::Get(timeout) => {
            let (mut table, ready) = wait_for(table, objects, timeout, |t| queue_len(t).0 > 0);
            if !ready {
                return Reply::Empty;
            }
            let item = match table.get_mut(&id) {
                Some(Object::Queue { items, .. }) => items.pop_front(),
                _ => None,
            };
            objects.changed.notify_all();
            Reply::Value(item)
        }
        QueueOp::Qsize => Reply::Count(queue_len(&table).0 as u64),
    }
}

fn lock_op(
    table: MutexGuard<'_, HashMap<u64, Object>>,
    objects: &Objects,
    id: u64,
    op: LockOp,
    connection: u64,
) -> Reply {
    match op {
        LockOp::Acquire(timeout) => {
            let (mut table, ready) = wait_for(table, objects, timeout, |t| {
                matches!(t.get(&id), Some(Object::Lock { holder: None }))
            });
            if !ready {
                return Reply::Timeout;
            }
            if let Some(Object::Lock { holder }) = table.get_mut(&id) {
                *holder = Some(connection);
            }
            Reply::Done
        }
        LockOp::Release => {
            let mut table = table;
            match table.get_mut(&id) {
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
