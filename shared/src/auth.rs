//! The authkey handshake both sides run on every new connection, before any
//! request: CPython's `deliver_challenge`/`answer_challenge`, in both
//! directions, with HMAC-SHA256 from the `hmac` and `sha2` crates.
//!
//! 1. The server sends 32 random bytes.
//! 2. The client answers with their HMAC under its authkey, and sends 32
//!    random bytes of its own.
//! 3. The server checks the answer (in constant time), then answers the
//!    client's bytes the same way, or says why it refuses and hangs up.
//! 4. The client checks that answer: a server that does not know the key
//!    (another user's socket put in our place) is not talked to.
//!
//! A process of the same user that was not forked or spawned from the
//! manager's owner does not have the key, and gets nothing.
//!
//! The manager runs it over its Unix socket, and [`crate::connection`] over
//! TCP too, where anyone may connect: so every frame of the handshake is
//! bounded ([`HELLO_MAX`], checked from its length prefix before the rest
//! is read) and the whole handshake has one deadline, however slowly the
//! other side trickles its bytes.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use nix::sys::socket::{getsockopt, sockopt};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::process::authkey::random_bytes;
use crate::wire::{FrameReader, WireError, send_value};

/// How long either side waits for the other's part of the handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest frame either side reads before the other is authenticated.
pub(crate) const HELLO_MAX: usize = 1024;

/// The messages of the handshake.
#[derive(Serialize, Deserialize)]
enum Hello {
    Challenge([u8; 32]),
    AnswerAndChallenge([u8; 32], [u8; 32]),
    Answer([u8; 32]),
    Refused(String),
}

/// Why a handshake failed.
#[derive(Debug)]
pub(crate) enum HandshakeError {
    /// The other side does not know the authkey.
    WrongKey(&'static str),
    /// The other side said no, with its reason.
    Refused(String),
    /// The connection failed, or spoke something else.
    Wire(WireError),
}

impl From<WireError> for HandshakeError {
    fn from(e: WireError) -> Self {
        HandshakeError::Wire(e)
    }
}

/// The uid of the process at the other end of `stream` (`SO_PEERCRED`, see
/// unix(7)): the server checks its clients', a client its server's.
pub(crate) fn peer_uid(stream: &UnixStream) -> Option<u32> {
    getsockopt(stream, sockopt::PeerCredentials)
        .ok()
        .map(|cred| cred.uid())
}

fn digest(key: &[u8; 32], challenge: &[u8; 32]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any size");
    mac.update(challenge);
    mac.finalize().into_bytes().into()
}

fn verify(key: &[u8; 32], challenge: &[u8; 32], answer: &[u8; 32]) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any size");
    mac.update(challenge);
    mac.verify_slice(answer).is_ok()
}

/// The server's side, on a fresh connection, finished by `deadline`.
pub(crate) fn server_side<S: Read + Write + AsFd>(
    stream: &mut S,
    reader: &mut FrameReader,
    key: &[u8; 32],
    deadline: Instant,
) -> Result<(), HandshakeError> {
    let challenge = random_bytes();
    send_value(stream, &Hello::Challenge(challenge))?;
    let answer = match recv_hello(stream, reader, deadline) {
        Ok(Hello::AnswerAndChallenge(answer, theirs)) => Some((answer, theirs)),
        Ok(_) => None,
        Err(e) => {
            let _ = send_value(stream, &Hello::Refused(format!("bad handshake: {e}")));
            return Err(e.into());
        }
    };
    let Some((answer, theirs)) = answer else {
        let _ = send_value(stream, &Hello::Refused("bad handshake".into()));
        return Err(HandshakeError::WrongKey(
            "a client that did not answer the challenge",
        ));
    };
    if !verify(key, &challenge, &answer) {
        let _ = send_value(
            stream,
            &Hello::Refused(
                "wrong authkey: this process was not started by the manager's owner".into(),
            ),
        );
        return Err(HandshakeError::WrongKey("a client with the wrong authkey"));
    }
    send_value(stream, &Hello::Answer(digest(key, &theirs)))?;
    Ok(())
}

/// The client's side, on a fresh connection, finished by `deadline`.
pub(crate) fn client_side<S: Read + Write + AsFd>(
    stream: &mut S,
    reader: &mut FrameReader,
    key: &[u8; 32],
    deadline: Instant,
) -> Result<(), HandshakeError> {
    let challenge = match recv_hello(stream, reader, deadline)? {
        Hello::Challenge(challenge) => challenge,
        Hello::Refused(why) => return Err(HandshakeError::Refused(why)),
        _ => return Err(HandshakeError::WrongKey("the server sent no challenge")),
    };
    let ours = random_bytes();
    send_value(
        stream,
        &Hello::AnswerAndChallenge(digest(key, &challenge), ours),
    )?;
    match recv_hello(stream, reader, deadline)? {
        Hello::Answer(answer) if verify(key, &ours, &answer) => Ok(()),
        Hello::Refused(why) => Err(HandshakeError::Refused(why)),
        _ => Err(HandshakeError::WrongKey(
            "the server does not know this process's authkey: not our manager",
        )),
    }
}

/// One message of the handshake, by `deadline` (else an `io::Error` of kind
/// `TimedOut`), refused from its length prefix if it announces more than
/// [`HELLO_MAX`] bytes.
fn recv_hello<S: Read + AsFd>(
    stream: &mut S,
    reader: &mut FrameReader,
    deadline: Instant,
) -> Result<Hello, WireError> {
    loop {
        if let Some(len) = reader.next_len()
            && len > HELLO_MAX
        {
            return Err(WireError::TooLarge {
                len,
                max: HELLO_MAX,
            });
        }
        if let Some(frame) = reader.take_frame()? {
            return postcard::from_bytes(&frame).map_err(WireError::Decode);
        }
        let fd = stream.as_fd().as_raw_fd();
        if !crate::sys::poll_readable(&[fd], Some(deadline))?[0] {
            return Err(WireError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the other side did not finish the handshake in time",
            )));
        }
        if reader.fill_available(stream)? == 0 {
            return Err(if reader.has_buffered() {
                WireError::Truncated {
                    expected: reader.next_len().map_or(4, |len| 4 + len),
                    got: reader.buffered_len(),
                }
            } else {
                WireError::Eof
            });
        }
    }
}

/// Tells a client, at the start of its handshake, that it will not be
/// served, and why.
pub(crate) fn refuse<S: Write>(stream: &mut S, why: String) {
    let _ = send_value(stream, &Hello::Refused(why));
}
