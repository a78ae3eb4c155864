//! This process's authkey: 32 random bytes that a manager demands of every
//! client, the counterpart of Python's `current_process().authkey`. Made on
//! first use; a forked child has its parent's (a copy of its memory), and a
//! spawned child reads it from a file only it was handed (see `spawn.rs`),
//! never from its environment. Another program, even of the same user, does
//! not have it.

use std::sync::OnceLock;

static KEY: OnceLock<[u8; 32]> = OnceLock::new();

/// This process's authkey.
pub(crate) fn authkey() -> &'static [u8; 32] {
    KEY.get_or_init(random_bytes)
}

/// Takes the key a spawning parent handed over, before anything uses one
/// (a spawned child's `init` calls this first).
pub(crate) fn set_inherited(key: [u8; 32]) {
    let _ = KEY.set(key);
}

/// 32 bytes from the kernel's random source (getrandom(2)), or the
/// program stops: a guessable key would be worse than none.
pub(crate) fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    let mut filled = 0;
    while filled < bytes.len() {
        let rest = &mut bytes[filled..];
        // Safety: writes at most `rest.len()` bytes into `rest`, a valid,
        // exclusively borrowed buffer.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        match usize::try_from(n) {
            Ok(n) => filled += n,
            Err(_) if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {
            }
            Err(_) => panic!("getrandom failed: {}", std::io::Error::last_os_error()),
        }
    }
    bytes
}
