//! [`Manager`]: a server process that holds shared objects (a dict, a queue,
//! a lock) and serves them to any process through proxies, the counterpart of
//! Python's `multiprocessing.Manager()`.
//!
//! # Design
//! [`Manager::start`] makes a private directory (mode 0700), forks the server
//! while this process is single-threaded, and waits until the server reports
//! that it listens on a Unix socket in that directory. The server serves each
//! connection on its own thread (it never forks again, so threads are fine
//! there). The objects live in the server; a proxy holds only the socket's
//! path and the object's id, so it can be serialised, which is why a proxy
//! can be a [`crate::Pool`] task's argument where a [`crate::Queue`] cannot.
//! Each proxy opens its own connection the first time it is used in a
//! process, and again after a fork: a connection is never shared between
//! processes.
//!
//! Every request is one frame (the crate's wire format) and gets one reply.
//! So `d[k] += 1` through a proxy is two round trips, a read then a write,
//! and other processes can write in between: lesson 06 shows the lost updates
//! and their fixes (a manager lock, or the server-side [`DictProxy::add`]).
//!
//! Only the same user gets in: the directory is 0700, and the server checks
//! every connection's uid with `SO_PEERCRED`. A malformed request, an
//! oversize length or an unknown object ends that connection with an error;
//! the server goes on serving everyone else.

use std::collections::{HashMap, VecDeque};
use std::ffi::CString;
use std::io::{self, Write};
use std::marker::PhantomData;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fork::ParentOnly;
use crate::process::Process;
use crate::wire::{self, FrameReader, WireError};

/// Why a manager call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ManagerError {
    /// The server cannot be reached: it was shut down or it died. Python:
    /// `ConnectionRefusedError` / `EOFError` from a proxy.
    Gone(String),
    /// The server answered with an error (an unknown object, a bad value).
    Remote(String),
    /// A manager queue stayed full until the timeout. Python: `queue.Full`.
    Full,
    /// A manager queue stayed empty until the timeout. Python: `queue.Empty`.
    Empty,
    /// A lock was not acquired before the timeout. Python: `acquire()`
    /// returned `False`.
    Timeout,
    /// A value could not be encoded or decoded.
    Wire(WireError),
}

impl std::fmt::Display for ManagerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManagerError::Gone(why) => write!(
                f,
                "the manager is gone ({why}): was it shut down, or did its server die?"
            ),
            ManagerError::Remote(why) => write!(f, "the manager refused the request: {why}"),
            ManagerError::Full => write!(f, "the manager queue is full (Python: queue.Full)"),
            ManagerError::Empty => write!(f, "the manager queue is empty (Python: queue.Empty)"),
            ManagerError::Timeout => write!(f, "timed out waiting for the manager lock"),
            ManagerError::Wire(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ManagerError {}

// ---------------------------------------------------------------------------
// The protocol.

/// What kind of object to create.
#[derive(Debug, Serialize, Deserialize)]
enum Kind {
    Dict,
    Queue { maxsize: u64 },
    Lock,
}

/// One request: an object id (0 for the manager itself) and a method.
#[derive(Debug, Serialize, Deserialize)]
enum Request {
    Create(Kind),
    Dict(u64, DictOp),
    Queue(u64, QueueOp),
    Lock(u64, LockOp),
    Shutdown,
}

#[derive(Debug, Serialize, Deserialize)]
enum DictOp {
    Get(String),
    Set(String, Vec<u8>),
    Delete(String),
    Contains(String),
    Len,
    Keys,
    Items,
    Update(Vec<(String, Vec<u8>)>),
    Pop(String),
    Clear,
    /// Add to the integer stored under the key (0 if absent): one atomic
    /// step in the server.
    Add(String, i64),
}

#[derive(Debug, Serialize, Deserialize)]
enum QueueOp {
    Put(Vec<u8>, Option<u64>),
    Get(Option<u64>),
    Qsize,
}

#[derive(Debug, Serialize, Deserialize)]
enum LockOp {
    Acquire(Option<u64>),
    Release,
}

#[derive(Debug, Serialize, Deserialize)]
enum Reply {
    Done,
    Created(u64),
    Value(Option<Vec<u8>>),
    Bool(bool),
    Count(u64),
    Keys(Vec<String>),
    Items(Vec<(String, Vec<u8>)>),
    Int(i64),
    Full,
    Empty,
    Timeout,
    Error(String),
}

// ---------------------------------------------------------------------------
// The client side.

/// A running manager server. Python: `multiprocessing.Manager()` (a
/// `SyncManager`, started).
///
/// Dropping it shuts the server down, as leaving `with Manager() as m:` does.
#[must_use = "dropping a Manager shuts its server down"]
#[derive(Debug)]
pub struct Manager {
    server: Option<Process>,
    dir: PathBuf,
    socket: PathBuf,
}

impl Manager {
    /// Makes a private directory, forks the server (refused unless this
    /// process is single-threaded) and waits until it listens.
    pub fn start() -> Result<Manager, Error> {
        let dir = private_dir()?;
        let socket = dir.join("manager.sock");
        let listener = UnixListener::bind(&socket).map_err(Error::Io)?;
        let (mut ready_reader, ready_writer) = std::io::pipe().map_err(Error::Io)?;
        let parent = std::process::id();
        let server = Process::start_with_code(move || serve(listener, ready_writer, parent));
        let server = match server {
            Ok(server) => server,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let manager = Manager {
            server: Some(server),
            dir,
            socket,
        };
        // The parent's copies of the listener and the pipe's write end are
        // gone (they moved into the closure). The server writes one byte
        // once it serves; end of stream means it died first.
        let mut byte = [0u8];
        match std::io::Read::read(&mut ready_reader, &mut byte) {
            Ok(1) => Ok(manager),
            _ => Err(Error::State(
                "the manager server exited before it was ready",
            )),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<i32> {
        self.server.as_ref().map(Process::pid)
    }

    /// Where the server listens. Python: `manager.address`.
    pub fn address(&self) -> &Path {
        &self.socket
    }

    /// A new, empty dict in the server. Python: `manager.dict()`.
    pub fn dict<V: Serialize + DeserializeOwned>(&self) -> Result<DictProxy<V>, ManagerError> {
        self.create(Kind::Dict).map(|base| DictProxy {
            base,
            value_type: PhantomData,
        })
    }

    /// A new queue in the server (`maxsize` 0: no bound). Python:
    /// `manager.Queue(maxsize)`.
    pub fn queue<T: Serialize + DeserializeOwned>(
        &self,
        maxsize: usize,
    ) -> Result<QueueProxy<T>, ManagerError> {
        self.create(Kind::Queue {
            maxsize: maxsize as u64,
        })
        .map(|base| QueueProxy {
            base,
            item_type: PhantomData,
        })
    }

    /// A new lock in the server. Python: `manager.Lock()`.
    pub fn lock(&self) -> Result<LockProxy, ManagerError> {
        self.create(Kind::Lock).map(|base| LockProxy { base })
    }

    fn create(&self, kind: Kind) -> Result<Proxy, ManagerError> {
        let base = Proxy::new(self.socket.clone(), 0);
        match base.call(&Request::Create(kind))? {
            Reply::Created(id) => Ok(Proxy::new(self.socket.clone(), id)),
            other => Err(unexpected(other)),
        }
    }

    /// Stops the server, reaps it, and removes its socket and directory.
    /// Returns the server's exitcode. Python: `manager.shutdown()`.
    pub fn shutdown(mut self) -> Result<i32, Error> {
        self.stop()
    }

    fn stop(&mut self) -> Result<i32, Error> {
        let Some(mut server) = self.server.take() else {
            return Ok(0);
        };
        // Ask politely; if it does not go within a second, kill it.
        let _ = Proxy::new(self.socket.clone(), 0).call(&Request::Shutdown);
        let code = match server.join_timeout(Duration::from_secs(1))? {
            Some(code) => code,
            None => {
                server.kill()?;
                server.join()?
            }
        };
        let _ = std::fs::remove_file(&self.socket);
        std::fs::remove_dir(&self.dir).map_err(Error::Io)?;
        Ok(code)
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Makes a directory only this user can enter, under `$XDG_RUNTIME_DIR` or
/// the temp directory.
fn private_dir() -> Result<PathBuf, Error> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let template = CString::new(
        base.join("multiproc-XXXXXX")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .map_err(|_| Error::State("the temp directory's path holds a NUL byte"))?;
    let mut bytes = template.into_bytes_with_nul();
    // Safety: `bytes` is a writable, NUL-terminated template ending in
    // XXXXXX; mkdtemp fills in the X's and creates the directory with mode
    // 0700, or returns null.
    let made = unsafe { libc::mkdtemp(bytes.as_mut_ptr().cast()) };
    if made.is_null() {
        return Err(Error::Io(io::Error::last_os_error()));
    }
    bytes.pop(); // The NUL.
    Ok(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

fn unexpected(reply: Reply) -> ManagerError {
    match reply {
        Reply::Error(why) => ManagerError::Remote(why),
        other => ManagerError::Remote(format!("unexpected reply {other:?}")),
    }
}

/// What every proxy holds: where the server is, which object, and this
/// process's connection (made on first use, remade after a fork).
#[derive(Debug)]
struct Proxy {
    socket: PathBuf,
    id: u64,
    /// This process's connection: closed in every child forked while it is
    /// open (`ParentOnly`), so a child never writes into it, and a lock held
    /// through it is released as soon as its owner exits.
    connection: Mutex<Option<(u32, ParentOnly<UnixStream>, FrameReader)>>,
}

impl Clone for Proxy {
    fn clone(&self) -> Self {
        Proxy::new(self.socket.clone(), self.id)
    }
}

impl Proxy {
    fn new(socket: PathBuf, id: u64) -> Proxy {
        Proxy {
            socket,
            id,
            connection: Mutex::new(None),
        }
    }

    /// Sends one request and waits for its reply.
    fn call(&self, request: &Request) -> Result<Reply, ManagerError> {
        let me = std::process::id();
        // One request at a time on this proxy's connection, whichever thread
        // sends it.
        let mut slot = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        // A connection made by the process we were forked from: its
        // descriptor was closed in this process at the fork, and the number
        // may already name another file. Forget it without closing it.
        if slot.as_ref().is_some_and(|(owner, _, _)| *owner != me) {
            std::mem::forget(slot.take());
        }
        if slot.is_none() {
            let stream = UnixStream::connect(&self.socket).map_err(|e| {
                ManagerError::Gone(format!("cannot connect to {}: {e}", self.socket.display()))
            })?;
            *slot = Some((me, ParentOnly::new(stream), FrameReader::new()));
        }
        let (_, stream, reader) = slot.as_mut().expect("connected above");
        let stream: &mut UnixStream = stream;
        let result =
            wire::send_value(stream, request).and_then(|()| reader.recv_value::<Reply>(stream));
        match result {
            Ok(reply) => Ok(reply),
            Err(
                e @ (WireError::Eof
                | WireError::Truncated { .. }
                | WireError::BrokenPipe
                | WireError::Io(_)),
            ) => {
                *slot = None;
                Err(ManagerError::Gone(e.to_string()))
            }
            Err(e) => Err(ManagerError::Wire(e)),
        }
    }
}

/// What a proxy looks like as bytes: the server's address and the object's id.
#[derive(Serialize, Deserialize)]
struct ProxyAddress {
    socket: PathBuf,
    id: u64,
}

macro_rules! serde_as_address {
    ($proxy:ident $(<$t:ident>)?, $($field:ident: $init:expr),*) => {
        impl$(<$t>)? Serialize for $proxy$(<$t>)? {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                ProxyAddress { socket: self.base.socket.clone(), id: self.base.id }.serialize(serializer)
            }
        }

        impl<'de $(, $t)?> Deserialize<'de> for $proxy$(<$t>)? {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let address = ProxyAddress::deserialize(deserializer)?;
                Ok($proxy { base: Proxy::new(address.socket, address.id), $($field: $init),* })
            }
        }
    };
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, ManagerError> {
    postcard::to_allocvec(value).map_err(|e| ManagerError::Wire(WireError::Encode(e)))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ManagerError> {
    postcard::from_bytes(bytes).map_err(|e| ManagerError::Wire(WireError::Decode(e)))
}

fn millis(timeout: Option<Duration>) -> Option<u64> {
    timeout.map(|t| t.as_millis().min(u64::MAX as u128) as u64)
}

/// A dict that lives in the manager's server. Python: a `DictProxy`.
///
/// Values are copied in and out: [`DictProxy::get`] returns a copy, and
/// changing that copy changes nothing in the server until it is
/// [`set`](DictProxy::set) again (Python's "nested objects are not
/// proxied").
#[derive(Debug, Clone)]
pub struct DictProxy<V> {
    base: Proxy,
    value_type: PhantomData<fn(V) -> V>,
}

serde_as_address!(DictProxy<V>, value_type: PhantomData);

impl<V: Serialize + DeserializeOwned> DictProxy<V> {
    fn dict(&self, op: DictOp) -> Result<Reply, ManagerError> {
        self.base.call(&Request::Dict(self.base.id, op))
    }

    /// A copy of the value under `key`. Python: `d.get(key)`.
    pub fn get(&self, key: &str) -> Result<Option<V>, ManagerError> {
        match self.dict(DictOp::Get(key.into()))? {
            Reply::Value(bytes) => bytes.map(|b| decode(&b)).transpose(),
            other => Err(unexpected(other)),
        }
    }

    /// Stores `value` under `key`. Python: `d[key] = value`.
    pub fn set(&self, key: &str, value: &V) -> Result<(), ManagerError> {
        match self.dict(DictOp::Set(key.into(), encode(value)?))? {
            Reply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Removes `key`; true if it was there. Python: `del d[key]`.
    pub fn delete(&self, key: &str) -> Result<bool, ManagerError> {
        self.bool(DictOp::Delete(key.into()))
    }

    /// Python: `key in d`.
    pub fn contains(&self, key: &str) -> Result<bool, ManagerError> {
        self.bool(DictOp::Contains(key.into()))
    }

    /// Python: `len(d)`.
    pub fn len(&self) -> Result<usize, ManagerError> {
        match self.dict(DictOp::Len)? {
            Reply::Count(n) => Ok(n as usize),
            other => Err(unexpected(other)),
        }
    }

    /// Python: `len(d) == 0`.
    pub fn is_empty(&self) -> Result<bool, ManagerError> {
        self.len().map(|n| n == 0)
    }

    /// The keys, sorted (Python keeps insertion order; sorted is stable
    /// across runs, which the lessons need). Python: `sorted(d.keys())`.
    pub fn keys(&self) -> Result<Vec<String>, ManagerError> {
        match self.dict(DictOp::Keys)? {
            Reply::Keys(keys) => Ok(keys),
            other => Err(unexpected(other)),
        }
    }

    /// Copies of every entry, sorted by key. Python: `sorted(d.items())`.
    pub fn items(&self) -> Result<Vec<(String, V)>, ManagerError> {
        match self.dict(DictOp::Items)? {
            Reply::Items(items) => items
                .into_iter()
                .map(|(k, v)| Ok((k, decode(&v)?)))
                .collect(),
            other => Err(unexpected(other)),
        }
    }

    /// Stores every entry of `entries`, in one request. Python: `d.update(...)`.
    pub fn update(&self, entries: &[(&str, V)]) -> Result<(), ManagerError> {
        let encoded = entries
            .iter()
            .map(|(k, v)| Ok((k.to_string(), encode(v)?)))
            .collect::<Result<_, ManagerError>>()?;
        match self.dict(DictOp::Update(encoded))? {
            Reply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Removes `key` and returns its value. Python: `d.pop(key, None)`.
    pub fn pop(&self, key: &str) -> Result<Option<V>, ManagerError> {
        match self.dict(DictOp::Pop(key.into()))? {
            Reply::Value(bytes) => bytes.map(|b| decode(&b)).transpose(),
            other => Err(unexpected(other)),
        }
    }

    /// Removes every entry. Python: `d.clear()`.
    pub fn clear(&self) -> Result<(), ManagerError> {
        match self.dict(DictOp::Clear)? {
            Reply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    fn bool(&self, op: DictOp) -> Result<bool, ManagerError> {
        match self.dict(op)? {
            Reply::Bool(b) => Ok(b),
            other => Err(unexpected(other)),
        }
    }
}

impl DictProxy<i64> {
    /// Adds `delta` to the integer under `key` (0 if absent) in one step in
    /// the server, and returns the new value: no other request can come
    /// between the read and the write. Python has no such method on a
    /// `DictProxy`; the counterpart is a custom manager method, or a lock.
    pub fn add(&self, key: &str, delta: i64) -> Result<i64, ManagerError> {
        match self.dict(DictOp::Add(key.into(), delta))? {
            Reply::Int(n) => Ok(n),
            other => Err(unexpected(other)),
        }
    }
}

/// A queue that lives in the manager's server. Python: `manager.Queue()`'s
/// proxy. Unlike [`crate::Queue`], it can be a Pool task's argument.
#[derive(Debug, Clone)]
pub struct QueueProxy<T> {
    base: Proxy,
    item_type: PhantomData<fn(T) -> T>,
}

serde_as_address!(QueueProxy<T>, item_type: PhantomData);

impl<T: Serialize + DeserializeOwned> QueueProxy<T> {
    /// Puts `item`, waiting for room as long as it takes (`None`) or at most
    /// `timeout`. Python: `q.put(item, timeout=t)`.
    pub fn put(&self, item: &T, timeout: Option<Duration>) -> Result<(), ManagerError> {
        match self.base.call(&Request::Queue(
            self.base.id,
            QueueOp::Put(encode(item)?, millis(timeout)),
        ))? {
            Reply::Done => Ok(()),
            Reply::Full => Err(ManagerError::Full),
            other => Err(unexpected(other)),
        }
    }

    /// Takes the next item, waiting as long as it takes (`None`) or at most
    /// `timeout`. Python: `q.get(timeout=t)`.
    pub fn get(&self, timeout: Option<Duration>) -> Result<T, ManagerError> {
        match self
            .base
            .call(&Request::Queue(self.base.id, QueueOp::Get(millis(timeout))))?
        {
            Reply::Value(Some(bytes)) => decode(&bytes),
            Reply::Empty => Err(ManagerError::Empty),
            other => Err(unexpected(other)),
        }
    }

    /// Python: `q.qsize()`.
    pub fn qsize(&self) -> Result<usize, ManagerError> {
        match self
            .base
            .call(&Request::Queue(self.base.id, QueueOp::Qsize))?
        {
            Reply::Count(n) => Ok(n as usize),
            other => Err(unexpected(other)),
        }
    }
}

/// A lock that lives in the manager's server. Python: `manager.Lock()`'s
/// proxy. If the process holding it dies, its connection closes and the
/// server releases the lock.
#[derive(Debug, Clone)]
pub struct LockProxy {
    base: Proxy,
}

serde_as_address!(LockProxy,);

impl LockProxy {
    /// Acquires the lock, waiting as long as it takes (`None`) or at most
    /// `timeout` ([`ManagerError::Timeout`]). Python: `lock.acquire(timeout=t)`.
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<(), ManagerError> {
        match self.base.call(&Request::Lock(
            self.base.id,
            LockOp::Acquire(millis(timeout)),
        ))? {
            Reply::Done => Ok(()),
            Reply::Timeout => Err(ManagerError::Timeout),
            other => Err(unexpected(other)),
        }
    }

    /// Releases the lock. Python: `lock.release()`.
    pub fn release(&self) -> Result<(), ManagerError> {
        match self
            .base
            .call(&Request::Lock(self.base.id, LockOp::Release))?
        {
            Reply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }
}

// ---------------------------------------------------------------------------
// The server side.

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
fn serve(listener: UnixListener, mut ready: std::io::PipeWriter, parent: u32) -> i32 {
    // Die with the parent, so a crashed parent does not leave the server
    // behind; and if the parent is already gone, leave now.
    // Safety: prctl with an integer signal number.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // Safety: getppid takes no arguments.
    if unsafe { libc::getppid() } as u32 != parent {
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
    // Safety: geteuid takes no arguments.
    let me = unsafe { libc::geteuid() };
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

/// The uid of the process at the other end of `stream` (`SO_PEERCRED`).
fn peer_uid(stream: &UnixStream) -> Option<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // Safety: getsockopt writes at most `len` bytes into `cred`, a valid local.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(cred.uid)
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
            crate::fork::exit_child(0);
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
    let deadline = timeout_ms.map(|ms| Instant::now() + Duration::from_millis(ms));
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
