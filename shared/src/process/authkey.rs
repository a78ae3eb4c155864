//! This process's authkey: 32 random bytes that a manager demands of every
//! client, the counterpart of Python's `current_process().authkey`. Made on
//! first use; a forked child has its parent's (a copy of its memory), and a
//! spawned child gets it in the environment (see `spawn.rs`). Another
//! program, even of the same user, does not have it.

use std::sync::OnceLock;

/// The environment variable that hands the key to a spawned child.
pub(crate) const ENV: &str = "MULTIPROC_AUTHKEY";

/// This process's authkey.
pub(crate) fn authkey() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| inherited().unwrap_or_else(random_bytes))
}

/// The key a spawning parent left in the environment, if any (`init` then
/// takes it out, so that programs this one runs do not see it).
fn inherited() -> Option<[u8; 32]> {
    let hex = std::env::var(ENV).ok()?;
    let mut key = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(key)
}

/// The key as hex, for a spawned child's environment.
pub(crate) fn authkey_hex() -> String {
    authkey().iter().map(|b| format!("{b:02x}")).collect()
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
