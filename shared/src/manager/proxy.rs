//! CLIENT SIDE: the proxies, run in any process that holds one. Each
//! process opens its own connection to the server on first use.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::ManagerError;
use super::protocol::{DictOp, Endpoint, LockOp, QueueOp, Reply, Request};
use super::refs;
use crate::auth::{self, HandshakeError, peer_uid};
use crate::connection::{Stream, tune_tcp};
use crate::process::authkey::authkey;
use crate::process::fork::{ParentOnly, own_pid};
use crate::sys::Spinner;
use crate::wire::{self, FrameReader, WireError};

pub(super) fn unexpected(reply: Reply) -> ManagerError {
    match reply {
        Reply::Error(why) => ManagerError::Remote(why),
        other => ManagerError::Remote(format!("unexpected reply {other:?}")),
    }
}

/// What every proxy holds: where the server is, which object, whether it
/// holds a reference on it, and this process's connection (made on first
/// use, remade after a fork).
#[derive(Debug)]
pub(super) struct Proxy {
    server: Endpoint,
    id: u64,
    /// The process whose reference this proxy holds (`refs.rs`), 0 for
    /// none: a proxy copied by fork holds none in the child (the parent
    /// lent the child one for its life), and drops none there.
    holder: u32,
    /// This process's connection: closed in every child forked while it is
    /// open (`ParentOnly`), so a child never writes into it, and a lock held
    /// through it is released as soon as its owner exits.
    connection: Mutex<Option<Connection>>,
}

/// A proxy's open connection to the server.
#[derive(Debug)]
struct Connection {
    /// The process that opened it.
    owner: u32,
    stream: ParentOnly<Stream>,
    reader: FrameReader,
    /// Whether the socket has read and write timeouts set now: only a timed
    /// request sets them, so an untimed one after an untimed one makes no
    /// `setsockopt` call.
    timed: bool,
    /// Looks for each reply before sleeping for it, while that pays.
    spinner: Spinner,
}

impl Clone for Proxy {
    /// A new reference on the same object. If the server cannot be told
    /// (it is gone), the clone holds none, and its calls fail as the
    /// original's would.
    fn clone(&self) -> Self {
        let held = refs::add(&self.server, self.id);
        Proxy::with_holder(self.server.clone(), self.id, held)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if self.holder == own_pid() {
            refs::release(&self.server, self.id);
        }
    }
}

impl Proxy {
    /// A proxy that holds no reference: for requests to the manager itself
    /// (id 0).
    pub(super) fn unheld(server: Endpoint, id: u64) -> Proxy {
        Proxy::with_holder(server, id, false)
    }

    /// The proxy of an object `refs::create` just made, holding the
    /// reference it made.
    pub(super) fn created(server: Endpoint, id: u64) -> Proxy {
        Proxy::with_holder(server, id, true)
    }

    fn with_holder(server: Endpoint, id: u64, held: bool) -> Proxy {
        Proxy {
            server,
            id,
            holder: if held { own_pid() } else { 0 },
            connection: Mutex::new(None),
        }
    }

    /// The bytes that stand for this proxy in a message, with a reference
    /// lent to the message.
    fn address(&self) -> ProxyAddress {
        ProxyAddress {
            server: self.server.clone(),
            id: self.id,
            token: refs::lend(&self.server, self.id).unwrap_or(0),
        }
    }

    /// The proxy a message carried, taking over the reference lent to it.
    fn from_address(address: ProxyAddress) -> Proxy {
        let held = refs::claim(&address.server, address.id, address.token);
        Proxy::with_holder(address.server, address.id, held)
    }

    /// Sends one request and waits for its reply, as long as it takes.
    pub(super) fn call(&self, request: &Request) -> Result<Reply, ManagerError> {
        self.call_within(request, None)
    }

    /// Sends one request that the server may take up to `timeout` to
    /// answer (a timed `get`, `put` or `acquire`), and waits for its reply
    /// until `timeout` plus [`REPLY_MARGIN`] (`None`: as long as it takes).
    /// Past that, whatever the server is doing (stopped, swamped), the
    /// connection is dropped and the error says so: the next call opens a
    /// new one.
    pub(super) fn call_within(
        &self,
        request: &Request,
        timeout: Option<Duration>,
    ) -> Result<Reply, ManagerError> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t + REPLY_MARGIN));
        let me = own_pid();
        // One request at a time on this proxy's connection, whichever thread
        // sends it.
        let mut slot = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        // A connection made by the process we were forked from: its
        // descriptor was closed in this process at the fork, and the number
        // may already name another file. Forget it without closing it.
        if slot.as_ref().is_some_and(|c| c.owner != me) {
            std::mem::forget(slot.take());
        }
        if slot.is_none() {
            let (stream, reader) = connect(&self.server, deadline)?;
            *slot = Some(Connection {
                owner: me,
                stream: ParentOnly::new(stream),
                reader,
                timed: false,
                spinner: Spinner::default(),
            });
        }
        let connection = slot.as_mut().expect("connected above");
        let stream: &mut Stream = &mut connection.stream;
        let timeouts = if deadline.is_some() || connection.timed {
            connection.timed = deadline.is_some();
            set_deadline(stream, deadline)
        } else {
            Ok(())
        };
        let result = timeouts
            .map_err(WireError::Io)
            .and_then(|()| wire::send_value(stream, request))
            .and_then(|()| {
                if !connection.reader.has_frame() {
                    connection.spinner.look(stream.as_fd(), REPLY_SPIN);
                }
                connection.reader.recv_value::<Reply>(stream)
            });
        match result {
            Ok(reply) => Ok(reply),
            Err(WireError::Io(e)) if timed_out(&e) => {
                *slot = None;
                Err(ManagerError::Unresponsive {
                    during: "a request".into(),
                    waited: timeout.unwrap_or_default() + REPLY_MARGIN,
                })
            }
            Err(
                e @ (WireError::Eof
                | WireError::Truncated { .. }
                | WireError::BrokenPipe
                | WireError::Io(_)),
            ) => {
                *slot = None;
                Err(ManagerError::Gone {
                    during: "a request".into(),
                    cause: e,
                })
            }
            Err(e) => Err(ManagerError::Wire(e)),
        }
    }
}

/// How long a call looks for its reply before it sleeps until it comes (see
/// `Spinner`). With the server's own look for the next request: a dict
/// `set` then `get` from one process, 30 k operations/s sleeping, 190 k
/// looking for 30 µs (10 µs: 110 k); a manager queue between two processes,
/// whose four parties look on two CPUs, 76 k to 70 k (10 µs: 82 k).
/// Medians of 6 alternating runs of `bench`.
const REPLY_SPIN: Duration = Duration::from_micros(30);

/// How much longer than a timed request's own timeout its caller waits for
/// the reply: room for the server to be scheduled and to answer, on a busy
/// machine. A server that has not answered by then is taken as stopped.
pub const REPLY_MARGIN: Duration = Duration::from_secs(1);

/// Sets (or with `None`, clears) the read and write timeouts of `stream` so
/// that no read or write on it outlasts `deadline`.
pub(super) fn set_deadline(stream: &Stream, deadline: Option<Instant>) -> std::io::Result<()> {
    let left = deadline.map(|d| {
        d.saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    });
    stream.set_read_timeout(left)?;
    stream.set_write_timeout(left)
}

/// True for the error a socket timeout gives (`EAGAIN` from a read or write
/// past `SO_RCVTIMEO`/`SO_SNDTIMEO`).
fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// The keys this process was given for managers served over TCP, by
/// address (`manager::connect`): a proxy of such a manager, wherever it
/// came from, gets in with it. Never sent anywhere but in the handshake.
static TCP_KEYS: Mutex<BTreeMap<SocketAddr, [u8; 32]>> = Mutex::new(BTreeMap::new());

/// Remembers `key` for the manager at `address`, for every proxy of it in
/// this process (and in children forked later).
pub(super) fn remember_key(address: SocketAddr, key: [u8; 32]) {
    TCP_KEYS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(address, key);
}

/// Connects to the server at `server` and runs the authkey handshake: both
/// sides prove they know the key (this process's for a Unix socket, whose
/// server must also run as this user; the one given to `manager::connect`
/// for TCP). All of it waits at most [`auth::HANDSHAKE_TIMEOUT`], or until
/// `deadline` if that comes first.
pub(super) fn connect(
    server: &Endpoint,
    deadline: Option<Instant>,
) -> Result<(Stream, FrameReader), ManagerError> {
    let started = Instant::now();
    let handshake_deadline = Instant::now() + auth::HANDSHAKE_TIMEOUT;
    let handshake_deadline = deadline.map_or(handshake_deadline, |d| d.min(handshake_deadline));
    let during = || format!("connecting to {server}");
    let gone = |e: std::io::Error| ManagerError::Gone {
        during: during(),
        cause: WireError::Io(e),
    };
    let (mut stream, key) = match server {
        Endpoint::Unix(socket) => {
            let stream = UnixStream::connect(socket).map_err(gone)?;
            let me = nix::unistd::geteuid().as_raw();
            match peer_uid(&stream) {
                Some(uid) if uid == me => {}
                other => {
                    return Err(ManagerError::Refused(format!(
                        "{} is served by uid {other:?}, not by this user (uid {me})",
                        socket.display()
                    )));
                }
            }
            (Stream::Unix(stream), *authkey())
        }
        Endpoint::Tcp(address) => {
            let key = TCP_KEYS
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(address)
                .copied()
                .ok_or_else(|| {
                    ManagerError::Refused(format!(
                        "this process has no key for the manager at tcp:{address}: \
                         call multiproc::manager::connect with its address and key first"
                    ))
                })?;
            let left = handshake_deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            let stream = TcpStream::connect_timeout(address, left).map_err(|e| {
                if timed_out(&e) {
                    ManagerError::Unresponsive {
                        during: during(),
                        waited: left,
                    }
                } else {
                    gone(e)
                }
            })?;
            tune_tcp(&stream).map_err(|e| ManagerError::Gone {
                during: during(),
                cause: WireError::Io(std::io::Error::other(e.to_string())),
            })?;
            (Stream::Tcp(stream), key)
        }
    };
    let mut reader = FrameReader::new();
    set_deadline(&stream, Some(handshake_deadline)).map_err(gone)?;
    match auth::client_side(&mut stream, &mut reader, &key, handshake_deadline) {
        Ok(()) => {}
        Err(HandshakeError::WrongKey(why)) => return Err(ManagerError::Refused(why.into())),
        Err(HandshakeError::Refused(why)) => return Err(ManagerError::Refused(why)),
        Err(HandshakeError::Wire(WireError::Io(e))) if timed_out(&e) => {
            return Err(ManagerError::Unresponsive {
                during: during(),
                waited: auth::HANDSHAKE_TIMEOUT
                    .min(handshake_deadline.saturating_duration_since(started)),
            });
        }
        Err(HandshakeError::Wire(cause)) => {
            return Err(ManagerError::Gone {
                during: during(),
                cause,
            });
        }
    }
    set_deadline(&stream, None).map_err(gone)?;
    Ok((stream, reader))
}

/// What a proxy looks like as bytes: the server's address, the object's id,
/// and the token of the reference lent to the message (0: none).
#[derive(Serialize, Deserialize)]
struct ProxyAddress {
    server: Endpoint,
    id: u64,
    token: u64,
}

macro_rules! serde_as_address {
    ($proxy:ident $(<$t:ident>)?, $($field:ident: $init:expr),*) => {
        impl$(<$t>)? Serialize for $proxy$(<$t>)? {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.base.address().serialize(serializer)
            }
        }

        impl<'de $(, $t)?> Deserialize<'de> for $proxy$(<$t>)? {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let address = ProxyAddress::deserialize(deserializer)?;
                Ok($proxy { base: Proxy::from_address(address), $($field: $init),* })
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
///
/// ```standalone_crate
/// // A program of its own: its one thread may fork the server.
/// use multiproc::Manager;
///
/// let manager = Manager::start()?;
/// let d = manager.dict::<i64>()?;
/// d.set("k", &40)?;
/// assert_eq!(d.add("k", 2)?, 42); // one request: no update can be lost
/// assert_eq!(d.keys()?, ["k"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DictProxy<V> {
    pub(super) base: Proxy,
    pub(super) value_type: PhantomData<fn(V) -> V>,
}

serde_as_address!(DictProxy<V>, value_type: PhantomData);

impl<V: Serialize + DeserializeOwned> DictProxy<V> {
    fn dict(&self, op: DictOp) -> Result<Reply, ManagerError> {
        self.base.call(&Request::Dict(self.base.id, op))
    }

    /// A copy of the value under `key`. Python: `d.get(key)`.
    ///
    /// # Errors
    /// [`ManagerError::Gone`] if the server cannot be reached (shut down, or
    /// dead); [`ManagerError::Wire`] if the value is not a `V`;
    /// [`ManagerError::Remote`] if the server refused.
    pub fn get(&self, key: &str) -> Result<Option<V>, ManagerError> {
        match self.dict(DictOp::Get(key.into()))? {
            Reply::Value(bytes) => bytes.map(|b| decode(&b)).transpose(),
            other => Err(unexpected(other)),
        }
    }

    /// Stores `value` under `key`. Python: `d[key] = value`.
    ///
    /// # Errors
    /// As [`DictProxy::get`].
    pub fn set(&self, key: &str, value: &V) -> Result<(), ManagerError> {
        match self.dict(DictOp::Set(key.into(), encode(value)?))? {
            Reply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Removes `key`; true if it was there. Python: `del d[key]`.
    ///
    /// # Errors
    /// As [`DictProxy::get`].
    pub fn delete(&self, key: &str) -> Result<bool, ManagerError> {
        self.bool(DictOp::Delete(key.into()))
    }

    /// Python: `key in d`.
    ///
    /// # Errors
    /// As [`DictProxy::get`].
    pub fn contains(&self, key: &str) -> Result<bool, ManagerError> {
        self.bool(DictOp::Contains(key.into()))
    }

    /// Python: `len(d)`.
    ///
    /// # Errors
    /// As [`DictProxy::get`].
    pub fn len(&self) -> Result<usize, ManagerError> {
        match self.dict(DictOp::Len)? {
            Reply::Count(n) => Ok(n as usize),
            other => Err(unexpected(other)),
        }
    }

    /// Python: `len(d) == 0`.
    ///
    /// # Errors
    /// As [`DictProxy::get`].
    pub fn is_empty(&self) -> Result<bool, ManagerError> {
        self.len().map(|n| n == 0)
    }

    /// The keys, sorted (Python keeps insertion order; sorted is stable
    /// across runs, which the lessons need). Python: `sorted(d.keys())`.
    ///
    /// # Errors
    /// As [`DictProxy::get`].
    pub fn keys(&self) -> Result<Vec<String>, ManagerError> {
        match self.dict(DictOp::Keys)? {
            Reply::Keys(keys) => Ok(keys),
            other => Err(unexpected(other)),
        }
    }

    /// Copies of every entry, sorted by key. Python: `sorted(d.items())`.
    ///
    /// # Errors
    /// As [`DictProxy::get`].
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
    ///
    /// # Errors
    /// As [`DictProxy::get`].
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
    ///
    /// # Errors
    /// As [`DictProxy::get`].
    pub fn pop(&self, key: &str) -> Result<Option<V>, ManagerError> {
        match self.dict(DictOp::Pop(key.into()))? {
            Reply::Value(bytes) => bytes.map(|b| decode(&b)).transpose(),
            other => Err(unexpected(other)),
        }
    }

    /// Removes every entry. Python: `d.clear()`.
    ///
    /// # Errors
    /// As [`DictProxy::get`].
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
    ///
    /// # Errors
    /// As [`DictProxy::get`]; [`ManagerError::Remote`] also if the stored
    /// value is not an `i64` (the sum wraps around on overflow).
    pub fn add(&self, key: &str, delta: i64) -> Result<i64, ManagerError> {
        match self.dict(DictOp::Add(key.into(), delta))? {
            Reply::Int(n) => Ok(n),
            other => Err(unexpected(other)),
        }
    }
}

/// A queue that lives in the manager's server. Python: `manager.Queue()`'s
/// proxy. Unlike [`crate::Queue`], it can be a Pool task's argument.
///
/// ```standalone_crate
/// // A program of its own: its one thread may fork the server.
/// use multiproc::Manager;
///
/// let manager = Manager::start()?;
/// let queue = manager.queue::<u32>(3)?;
/// queue.put(&5, None)?;
/// assert_eq!(queue.qsize()?, 1);
/// assert_eq!(queue.get(None)?, 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct QueueProxy<T> {
    pub(super) base: Proxy,
    pub(super) item_type: PhantomData<fn(T) -> T>,
}

serde_as_address!(QueueProxy<T>, item_type: PhantomData);

impl<T: Serialize + DeserializeOwned> QueueProxy<T> {
    /// Puts `item`, waiting for room as long as it takes (`None`) or at most
    /// `timeout`. Python: `q.put(item, timeout=t)`.
    ///
    /// # Errors
    /// [`ManagerError::Full`] if a bounded queue stayed full until `timeout`;
    /// [`ManagerError::Gone`], [`ManagerError::Wire`], [`ManagerError::Remote`]
    /// as for [`DictProxy::get`].
    pub fn put(&self, item: &T, timeout: Option<Duration>) -> Result<(), ManagerError> {
        match self.base.call_within(
            &Request::Queue(self.base.id, QueueOp::Put(encode(item)?, millis(timeout))),
            timeout,
        )? {
            Reply::Done => Ok(()),
            Reply::Full => Err(ManagerError::Full),
            other => Err(unexpected(other)),
        }
    }

    /// Takes the next item, waiting as long as it takes (`None`) or at most
    /// `timeout`. Python: `q.get(timeout=t)`.
    ///
    /// # Errors
    /// [`ManagerError::Empty`] if nothing came before `timeout`; the others as
    /// for [`QueueProxy::put`].
    pub fn get(&self, timeout: Option<Duration>) -> Result<T, ManagerError> {
        match self.base.call_within(
            &Request::Queue(self.base.id, QueueOp::Get(millis(timeout))),
            timeout,
        )? {
            Reply::Value(Some(bytes)) => decode(&bytes),
            Reply::Empty => Err(ManagerError::Empty),
            other => Err(unexpected(other)),
        }
    }

    /// Python: `q.qsize()`.
    ///
    /// # Errors
    /// As [`DictProxy::get`].
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
///
/// ```standalone_crate
/// // A program of its own: its one thread may fork the server.
/// use std::time::{Duration, Instant};
/// use multiproc::Manager;
///
/// let manager = Manager::start()?;
/// let lock = manager.lock()?;
/// lock.acquire(None)?;
/// // The same lock through another proxy: held, so this one times out.
/// let other = lock.clone();
/// assert!(other.acquire(Some(Duration::from_millis(50))).is_err());
/// lock.release()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct LockProxy {
    pub(super) base: Proxy,
}

serde_as_address!(LockProxy,);

impl LockProxy {
    /// Acquires the lock, waiting as long as it takes (`None`) or at most
    /// `timeout` ([`ManagerError::Timeout`]). Python: `lock.acquire(timeout=t)`.
    ///
    /// # Errors
    /// [`ManagerError::Timeout`] if the lock stayed held until `timeout`;
    /// [`ManagerError::Gone`] or [`ManagerError::Remote`] as for
    /// [`DictProxy::get`].
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<(), ManagerError> {
        match self.base.call_within(
            &Request::Lock(self.base.id, LockOp::Acquire(millis(timeout))),
            timeout,
        )? {
            Reply::Done => Ok(()),
            Reply::Timeout => Err(ManagerError::Timeout),
            other => Err(unexpected(other)),
        }
    }

    /// Releases the lock. Python: `lock.release()`.
    ///
    /// # Errors
    /// [`ManagerError::Remote`] if this connection does not hold the lock
    /// (Python: `RuntimeError: release unlocked lock`); [`ManagerError::Gone`].
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
