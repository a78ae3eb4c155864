//! Frames through the queue's non-blocking, packet-mode pipe, with deadlines.
//! Runs in whichever process puts or gets, always under the matching lock.
//! Man pages: pipe(7) ("O_DIRECT" packet mode), poll(2).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::QueueError;
use super::shm::{ControlBlock, Locked};
use crate::sys::poll_fds;
use crate::wire::{self, WireError};

/// The most a packet holds, as counted here: 4096 bytes, a page on the
/// machines the course runs on. On a machine with larger pages a large item
/// is counted as more packets than it takes: `put_timeout` errs on the side
/// of `Full`, never of a torn stream.
pub(super) const PAGE: usize = libc::PIPE_BUF;

/// While a frame is only partly there, how often to check whether its writer
/// died.
const STALL_CHECK: Duration = Duration::from_millis(100);

/// Writes a whole frame to the non-blocking pipe, with `writing` set from
/// the first byte to the last. `Ok(false)` if the deadline passed before the
/// first byte went in.
///
/// # Errors
/// [`WireError::BrokenPipe`] when no process holds the read end any more, or
/// the pipe's own I/O error.
pub(super) fn write_frame_until(
    mut writer: &File,
    frame: &[u8],
    deadline: Option<Instant>,
    block: &ControlBlock,
) -> Result<bool, QueueError> {
    let mut written = 0;
    while written < frame.len() {
        match writer.write(&frame[written..]) {
            Ok(n) => {
                // From the first byte on, a death here tears the stream.
                block.writing.store(true, Ordering::SeqCst);
                written += n;
                // Each write starts a new packet, of at most a page.
                block.packets.fetch_add(n.div_ceil(PAGE), Ordering::SeqCst);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // Until the first byte, the caller's deadline; after it, none.
                let wait_until = if written == 0 { deadline } else { None };
                if !poll_fds(&[(writer.as_raw_fd(), libc::POLLOUT)], wait_until)?[0] {
                    return Ok(false);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                return Err(WireError::BrokenPipe.into());
            }
            Err(e) => return Err(WireError::Io(e).into()),
        }
    }
    block.writing.store(false, Ordering::SeqCst);
    Ok(true)
}

/// Reads one whole frame from the non-blocking, packet-mode pipe. `Ok(None)`
/// if no frame began before the deadline. The pipe is in packet mode
/// (`O_DIRECT`): each read returns one packet of at most `PIPE_BUF` bytes,
/// and a frame's first packet holds its first `PIPE_BUF` bytes, so a small
/// item costs one `read(2)`, prefix and all. Once a frame has begun, it is
/// read to its end whatever the time; while it is only partly there, every
/// 100 ms the reader checks whether its writer died.
///
/// # Errors
/// [`QueueError::Closed`] at the end of the stream; a torn frame marks the
/// queue broken and returns its [`WireError`].
pub(super) fn read_frame_until(
    mut reader: &File,
    deadline: Option<Instant>,
    block: &ControlBlock,
) -> Result<Option<Vec<u8>>, QueueError> {
    // A whole packet: reading less would throw the rest of it away.
    let mut first = [0u8; libc::PIPE_BUF];
    let got = loop {
        match reader.read(&mut first) {
            Ok(0) => return Err(QueueError::Closed),
            Ok(n) => {
                block.packets.fetch_sub(1, Ordering::SeqCst);
                break n;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !poll_fds(&[(reader.as_raw_fd(), libc::POLLIN)], deadline)?[0] {
                    return Ok(None);
                }
            }
            Err(e) => return Err(WireError::Io(e).into()),
        }
    };
    let torn = |why: WireError| -> QueueError {
        // Only a torn stream gives these: no writer sends such a packet.
        block.broken.store(true, Ordering::SeqCst);
        why.into()
    };
    if got < 4 {
        return Err(torn(WireError::Truncated { expected: 4, got }));
    }
    let len = wire::parse_prefix([first[0], first[1], first[2], first[3]]).map_err(torn)?;
    if got - 4 > len {
        return Err(torn(WireError::Truncated {
            expected: 4 + len,
            got,
        }));
    }
    let mut payload = vec![0u8; len];
    payload[..got - 4].copy_from_slice(&first[4..got]);
    if got - 4 < len {
        // The rest comes in packets of this frame only, each no larger than
        // what is left, so reading straight into the payload loses nothing.
        block.reading.store(true, Ordering::SeqCst);
        fill_started(reader, &mut payload[got - 4..], block, got)?;
        block.reading.store(false, Ordering::SeqCst);
    }
    Ok(Some(payload))
}

/// Fills the rest of a frame that has begun (`before` bytes of it came
/// already): no deadline, but a check on the writer every 100 ms.
fn fill_started(
    mut reader: &File,
    buf: &mut [u8],
    block: &ControlBlock,
    before: usize,
) -> Result<(), QueueError> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => {
                block.broken.store(true, Ordering::SeqCst);
                return Err(WireError::Truncated {
                    expected: before + buf.len(),
                    got: before + got,
                }
                .into());
            }
            Ok(n) => {
                got += n;
                block.packets.fetch_sub(1, Ordering::SeqCst);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let tick = Some(Instant::now() + STALL_CHECK);
                if !poll_fds(&[(reader.as_raw_fd(), libc::POLLIN)], tick)?[0] {
                    check_writer_alive(block)?;
                }
            }
            Err(e) => return Err(WireError::Io(e).into()),
        }
    }
    Ok(())
}

/// A frame is half there and nothing more arrived for a while: if its writer
/// died (the write lock's holder is gone), the queue is broken.
fn check_writer_alive(block: &ControlBlock) -> Result<(), QueueError> {
    match block.write_lock.lock_until(Some(Instant::now()))? {
        // Half a frame is here, so its writer was writing: the stream is torn.
        Locked::HolderDied(_) => {
            block.broken.store(true, Ordering::SeqCst);
            Err(QueueError::Broken("a process died while writing an item"))
        }
        // Free (the guard unlocks at once), or held: the writer is writing.
        Locked::Held(_) | Locked::TimedOut => Ok(()),
    }
}
