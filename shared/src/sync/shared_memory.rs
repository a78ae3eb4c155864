//! [`SharedMemory`]: a block of bytes that another program can attach to by
//! its name.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr::NonNull;

use nix::sys::memfd::{MFdFlags, memfd_create};

use crate::error::Error;
use crate::process::authkey::random_bytes;
use crate::sys::unmap_shared;

/// Bytes before the caller's: a random token that the name repeats, so that
/// a name whose creator is gone cannot attach to another segment that took
/// over its process id and descriptor number.
const HEADER: usize = 64;
const TOKEN: usize = 16;

/// A block of bytes in memory that processes share, found by its name: a
/// process started with [`Process::spawn`](crate::Process::spawn), which
/// inherits no memory, attaches to it with the name. Python:
/// `multiprocessing.shared_memory.SharedMemory`.
///
/// The memory is an anonymous file (memfd_create(2)), never a file in
/// `/dev/shm`, so nothing can be left behind: the kernel frees it when the
/// last process that maps it is gone, however they ended, SIGKILL
/// included. The name is the creator's descriptor, seen through `/proc`
/// (`/proc/<pid>/fd/<n>#<token>`): it resolves while the creator holds the
/// segment, for processes of the same user. So unlike Python's, the name
/// stops working when the creator drops it or ends (an attached process
/// keeps its mapping), and there is no `unlink` to forget.
///
/// The bytes are reached by copying them in and out ([`read`], [`write`]),
/// never through a reference: another process may change them at any time.
///
/// [`read`]: SharedMemory::read
/// [`write`]: SharedMemory::write
///
/// ```standalone_crate
/// use multiproc::SharedMemory;
///
/// let created = SharedMemory::create(16).unwrap();
/// created.write(0, b"hello");
/// let attached = SharedMemory::attach(created.name()).unwrap();
/// let mut got = [0u8; 5];
/// attached.read(0, &mut got);
/// assert_eq!(&got, b"hello");
/// ```
#[doc(alias = "shared_memory.SharedMemory")]
pub struct SharedMemory {
    map: NonNull<u8>,
    size: usize,
    name: String,
    /// The creator's descriptor, which the name points to; `None` in an
    /// attached process, which holds only its mapping.
    _file: Option<OwnedFd>,
}

// Safety: the bytes are only copied in and out through raw pointers (no
// reference to them is made), and the mapping lives as long as the value.
unsafe impl Send for SharedMemory {}
// Safety: as above.
unsafe impl Sync for SharedMemory {}

impl SharedMemory {
    /// A new block of `size` zeroed bytes. Python:
    /// `SharedMemory(create=True, size=size)`.
    ///
    /// # Errors
    /// [`Error::Os`] if the file cannot be made, sized or mapped.
    pub fn create(size: usize) -> Result<SharedMemory, Error> {
        let fd = memfd_create("multiproc-shared-memory", MFdFlags::MFD_CLOEXEC)
            .map_err(|e| Error::Os("memfd_create", e))?;
        let file = File::from(fd);
        let total = HEADER
            .checked_add(size)
            .ok_or(Error::State("a size larger than memory"))?;
        file.set_len(total as u64)
            .map_err(|e| Error::os("ftruncate (the shared memory's size)", &e))?;
        let map = map_file(&file, total)?;
        let token: [u8; TOKEN] = random_bytes()[..TOKEN].try_into().expect("16 of 32 bytes");
        let token_text: String = token.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!(
            "/proc/{}/fd/{}#{token_text}",
            std::process::id(),
            file.as_raw_fd()
        );
        let memory = SharedMemory {
            map,
            size,
            name,
            _file: Some(OwnedFd::from(file)),
        };
        // Safety: the token's bytes are in the mapping's header, which no
        // other process can reach before it knows the name.
        unsafe { std::ptr::copy_nonoverlapping(token.as_ptr(), memory.map.as_ptr(), TOKEN) };
        Ok(memory)
    }

    /// Attaches to the block that `name` names ([`SharedMemory::name`] of
    /// its creator). Python: `SharedMemory(name)`.
    ///
    /// # Errors
    /// [`Error::Io`] if the name is malformed, or names nothing any more
    /// (its creator dropped it or ended), or names another block;
    /// [`Error::Os`] if it cannot be mapped.
    pub fn attach(name: &str) -> Result<SharedMemory, Error> {
        let invalid =
            |why: String| Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, why));
        let (path, token_text) = name.rsplit_once('#').ok_or_else(|| {
            invalid(format!(
                "`{name}` is not a shared memory name (no `#token` at its end)"
            ))
        })?;
        let token = parse_token(token_text)
            .ok_or_else(|| invalid(format!("`{name}` has a malformed token")))?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| {
                Error::Io(std::io::Error::new(
                    e.kind(),
                    format!(
                        "cannot open shared memory `{name}`: {e} (its creator has dropped it or \
                         ended, or is another user's process)"
                    ),
                ))
            })?;
        let total = usize::try_from(
            file.metadata()
                .map_err(|e| Error::os("fstat (the shared memory)", &e))?
                .len(),
        )
        .map_err(|_| Error::State("a shared memory larger than memory"))?;
        if total < HEADER {
            return Err(invalid(format!("`{name}` is not a shared memory block")));
        }
        let memory = SharedMemory {
            map: map_file(&file, total)?,
            size: total - HEADER,
            name: name.to_owned(),
            _file: None,
        };
        let mut found = [0u8; TOKEN];
        // Safety: the header's first bytes, copied out of the mapping.
        unsafe { std::ptr::copy_nonoverlapping(memory.map.as_ptr(), found.as_mut_ptr(), TOKEN) };
        if found != token {
            return Err(invalid(format!(
                "`{name}` names another block now (its creator is gone, and its process id \
                 and descriptor number were reused)"
            )));
        }
        Ok(memory)
    }

    /// The name another process attaches with. Python: `shm.name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many bytes it holds. Python: `shm.size`.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Copies `bytes` into the block from byte `offset` on. Python:
    /// `shm.buf[offset:offset + len(bytes)] = bytes`.
    ///
    /// # Panics
    /// If the bytes would not fit, as slice indexing would.
    pub fn write(&self, offset: usize, bytes: &[u8]) {
        self.check_range(offset, bytes.len());
        // Safety: in bounds (checked above); `bytes` is this process's own
        // memory, which cannot overlap the mapping; no reference into the
        // mapping is made.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.map.as_ptr().wrapping_add(HEADER + offset),
                bytes.len(),
            );
        }
    }

    /// Copies `out.len()` bytes out of the block from byte `offset` on.
    /// Python: `bytes(shm.buf[offset:offset + n])`.
    ///
    /// # Panics
    /// If the range is not inside the block.
    pub fn read(&self, offset: usize, out: &mut [u8]) {
        self.check_range(offset, out.len());
        // Safety: as in `write`, the other way round.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.map.as_ptr().wrapping_add(HEADER + offset),
                out.as_mut_ptr(),
                out.len(),
            );
        }
    }

    fn check_range(&self, offset: usize, len: usize) {
        let end = offset.checked_add(len);
        assert!(
            end.is_some_and(|end| end <= self.size),
            "bytes {offset}..{} are outside a shared memory block of {} bytes",
            offset.saturating_add(len),
            self.size
        );
    }
}

impl std::fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedMemory")
            .field("name", &self.name)
            .field("size", &self.size)
            .finish()
    }
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // Safety: the mapping `map_file` made, of this size; nothing refers
        // to it after this.
        unsafe { unmap_shared(self.map.cast(), HEADER + self.size) };
    }
}

fn parse_token(text: &str) -> Option<[u8; TOKEN]> {
    if text.len() != 2 * TOKEN {
        return None;
    }
    let mut token = [0u8; TOKEN];
    for (i, byte) in token.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(token)
}

/// Maps `bytes` bytes of `file`, shared, readable and writable.
fn map_file(file: &File, bytes: usize) -> Result<NonNull<u8>, Error> {
    // Safety: asks for a fresh mapping of an open file; no existing memory
    // is touched. The result is checked against MAP_FAILED.
    let memory = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    if memory == libc::MAP_FAILED {
        return Err(Error::os(
            "mmap (the shared memory)",
            &std::io::Error::last_os_error(),
        ));
    }
    Ok(NonNull::new(memory.cast()).expect("mmap returned a non-null address"))
}
