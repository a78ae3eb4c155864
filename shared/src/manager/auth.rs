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

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use hmac::{Hmac, Mac};
use nix::sys::socket::{getsockopt, sockopt};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::process::authkey::random_bytes;
use crate::wire::{FrameReader, WireError, send_value};

/// How long either side waits for the other's part of the handshake.
pub(super) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

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
pub(super) enum HandshakeError {
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
pub(super) fn peer_uid(stream: &UnixStream) -> Option<u32> {
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

/// The server's side, on a fresh connection.
pub(super) fn server_side<S: Read + Write>(
    stream: &mut S,
    reader: &mut FrameReader,
    key: &[u8; 32],
) -> Result<(), HandshakeError> {
    let challenge = random_bytes();
    send_value(stream, &Hello::Challenge(challenge))?;
    let answer = match reader.recv_value(stream) {
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

/// The client's side, on a fresh connection.
pub(super) fn client_side<S: Read + Write>(
    stream: &mut S,
    reader: &mut FrameReader,
    key: &[u8; 32],
) -> Result<(), HandshakeError> {
    let challenge = match reader.recv_value(stream)? {
        Hello::Challenge(challenge) => challenge,
        Hello::Refused(why) => return Err(HandshakeError::Refused(why)),
        _ => return Err(HandshakeError::WrongKey("the server sent no challenge")),
    };
    let ours = random_bytes();
    send_value(
        stream,
        &Hello::AnswerAndChallenge(digest(key, &challenge), ours),
    )?;
    match reader.recv_value(stream)? {
        Hello::Answer(answer) if verify(key, &ours, &answer) => Ok(()),
        Hello::Refused(why) => Err(HandshakeError::Refused(why)),
        _ => Err(HandshakeError::WrongKey(
            "the server does not know this process's authkey: not our manager",
        )),
    }
}

/// Tells a client, at the start of its handshake, that it will not be
/// served, and why.
pub(super) fn refuse<S: Write>(stream: &mut S, why: String) {
    let _ = send_value(stream, &Hello::Refused(why));
}
