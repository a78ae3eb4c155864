//! The protocol both sides speak: every request is one frame (the crate's
//! wire format) and gets one reply frame. Used by the client side
//! (`proxy.rs`) and by the server process (`server.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where a manager's server listens, as its proxies remember it (and carry
/// it in messages: never a key).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(super) enum Endpoint {
    /// Its private Unix socket, on this machine: the processes that share
    /// the owner's authkey get in.
    Unix(PathBuf),
    /// TCP, on this machine or another: a process gets in with the key it
    /// gave `manager::connect` for this address.
    Tcp(SocketAddr),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "{}", path.display()),
            Endpoint::Tcp(address) => write!(f, "tcp:{address}"),
        }
    }
}

/// What kind of object to create.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Kind {
    Dict,
    Queue { maxsize: u64 },
    Lock,
}

/// One request: an object id (0 for the manager itself) and a method.
///
/// The reference requests (`Create` to `Count`) come on each process's one
/// reference connection (`refs.rs`); the connection that sends `Create`,
/// `AddRef`, `Lend` or `Claim` owns the reference it makes, and the server
/// drops every reference a connection owns when it closes. `AddRef` and
/// `DropRef` get no reply: a process's requests are served in order, so one
/// that follows them sees their effect. `Claim` and `LendToChild` are
/// answered: until the answer, the reference is still the sender's or the
/// parent's, and the process that made it may end at any moment.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Request {
    /// A new object with one reference, owned by this connection.
    Create(Kind),
    /// One more reference on the object (a proxy cloned). No reply.
    AddRef(u64),
    /// One reference less (a proxy dropped); the object is freed when its
    /// last reference goes. No reply.
    DropRef(u64),
    /// One more reference, held for whichever process claims the token
    /// that the reply carries (a proxy serialised into a message); until
    /// then it is this connection's.
    Lend(u64),
    /// Takes over the reference lent under `token` (a proxy deserialised);
    /// one more reference if that token was already claimed.
    Claim {
        id: u64,
        token: u64,
    },
    /// One reference on each of `ids` for the life of the child `pid` that
    /// this connection's process just forked (its proxies, copied by the
    /// fork).
    LendToChild {
        pid: i32,
        ids: Vec<u64>,
    },
    /// How many objects the server holds.
    Count,
    Dict(u64, DictOp),
    Queue(u64, QueueOp),
    Lock(u64, LockOp),
    Shutdown,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) enum DictOp {
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
pub(super) enum QueueOp {
    Put(Vec<u8>, Option<u64>),
    Get(Option<u64>),
    Qsize,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) enum LockOp {
    Acquire(Option<u64>),
    Release,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Reply {
    Done,
    Created(u64),
    Token(u64),
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The server decodes whatever a client sends: any bytes give a
        /// request or an error, never a panic.
        #[test]
        fn arbitrary_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = postcard::from_bytes::<Request>(&bytes);
        }

        /// What a client encodes, the server decodes to the same request.
        #[test]
        fn requests_round_trip(id in any::<u64>(), key in ".{0,40}", value in proptest::collection::vec(any::<u8>(), 0..100), delta in any::<i64>()) {
            for request in [
                Request::Dict(id, DictOp::Set(key.clone(), value.clone())),
                Request::Dict(id, DictOp::Add(key.clone(), delta)),
                Request::Dict(id, DictOp::Get(key.clone())),
            ] {
                let bytes = postcard::to_allocvec(&request).unwrap();
                let back: Request = postcard::from_bytes(&bytes).unwrap();
                prop_assert_eq!(format!("{back:?}"), format!("{request:?}"));
            }
        }
    }
}
