//! Items through the queue's ring, with deadlines, in whichever process puts
//! or gets. The rules that keep every count exact whatever process is
//! killed, wherever:
//!
//! - An item is one or more *records*: an 8-byte header (its length, and
//!   whether it is the item's last record, or the mark of an item abandoned
//!   half written) and up to [`CHUNK`] bytes. Records are 8-byte aligned;
//!   they wrap at the ring's end.
//! - Everything the queue counts is in two words: `tail` (where the next
//!   record goes, items put, an item half written) and `head` (where the
//!   next record is read, items taken, an item half read), each changed by
//!   one store that also *publishes* (`tail`) or *takes* (`head`) a record.
//!   A process killed before that store changed nothing; after it, the
//!   change is whole. No count is ever updated apart from the data it counts.
//! - An item is counted in (`put`) by the store that publishes its last
//!   record, and counted out by the store that takes its last record. So
//!   `qsize` is `put - taken`, and a bounded queue's room is `maxsize -
//!   qsize`: nothing can drift.
//! - A consumer killed halfway through a long item leaves `head`'s
//!   half-read mark: the next consumer skips the rest of that item (it is
//!   the one item the dead process held) and counts it out. A producer
//!   killed halfway leaves `tail`'s half-written mark: the next process to
//!   take the producer lock (a producer, or a consumer waiting for the
//!   rest) publishes an *abandoned* record that ends the item uncounted.
//! - One producer and one consumer at a time, each under its robust lock;
//!   a process killed while it waits for a lock or for room holds nothing.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::QueueError;
use super::shm::{RING, SharedBlock};
use crate::sync::robust::Locked;
use crate::wire::WireError;

/// The most bytes of an item one record carries.
pub(super) const CHUNK: usize = 64 * 1024;

/// A record's header: `len` (4 bytes), flags (1 byte), 3 spare.
const HEADER: usize = 8;
const LAST: u8 = 1;
const ABANDONED: u8 = 2;

/// While the rest of a half-read item has not come, how often to check
/// whether its producer died.
const STALL_CHECK: Duration = Duration::from_millis(100);

const POS_MASK: u64 = (1 << 40) - 1;
const COUNT_SHIFT: u32 = 40;
const COUNT_MASK: u64 = (1 << 23) - 1;
const HALFWAY: u64 = 1 << 63;

/// One of the two words, unpacked: a byte position (modulo 2^40; the ring's
/// size divides it), an item count (modulo 2^23) and the half-way mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct End {
    pos: u64,
    count: u64,
    halfway: bool,
}

impl End {
    fn unpack(word: u64) -> End {
        End {
            pos: word & POS_MASK,
            count: (word >> COUNT_SHIFT) & COUNT_MASK,
            halfway: word & HALFWAY != 0,
        }
    }

    fn pack(self) -> u64 {
        (self.pos & POS_MASK)
            | ((self.count & COUNT_MASK) << COUNT_SHIFT)
            | if self.halfway { HALFWAY } else { 0 }
    }

    /// This end moved past a record of `size` bytes; `counted` if it ends
    /// an item; `halfway` if more of its item follows.
    fn past(self, size: usize, counted: bool, halfway: bool) -> End {
        End {
            pos: (self.pos + size as u64) & POS_MASK,
            count: (self.count + u64::from(counted)) & COUNT_MASK,
            halfway,
        }
    }
}

/// The bytes a record of `len` bytes takes in the ring.
fn record_size(len: usize) -> usize {
    HEADER + len.next_multiple_of(8)
}

/// The bytes a whole item of `len` bytes takes in the ring: full records
/// of [`CHUNK`] bytes, then one for the rest (or one empty record).
pub(super) fn item_size(len: usize) -> usize {
    let full = len / CHUNK;
    let rest = len % CHUNK;
    let last = if rest > 0 || full == 0 {
        record_size(rest)
    } else {
        0
    };
    full * record_size(CHUNK) + last
}

fn tail(block: &SharedBlock) -> End {
    End::unpack(block.tail.load(Ordering::SeqCst))
}

fn head(block: &SharedBlock) -> End {
    End::unpack(block.head.load(Ordering::SeqCst))
}

/// Whether `size` bytes are free from `tail` on, and (when `maxsize` is
/// not 0) fewer than `maxsize` items are in the queue. The caller holds the
/// producer lock.
///
/// `head` is written by the consumer for every record, so reading it costs
/// the producer a cache line from the other CPU. The producers keep their
/// last view of it instead (`head_seen`) and read `head` only when that
/// view shows too little room. The view is never ahead of `head` (which
/// moves on only), and never more than the ring behind `tail` (producers
/// publish only what it shows room for): it can only underestimate the
/// room, in bytes and in items.
fn has_room(block: &SharedBlock, size: usize, maxsize: usize) -> bool {
    let tail = tail(block);
    let room_after = |head: End| {
        let used = (tail.pos.wrapping_sub(head.pos) & POS_MASK) as usize;
        let items = (tail.count.wrapping_sub(head.count) & COUNT_MASK) as usize;
        RING.checked_sub(used).is_some_and(|free| free >= size) && (maxsize == 0 || items < maxsize)
    };
    if room_after(End::unpack(block.head_seen.load(Ordering::Relaxed))) {
        return true;
    }
    let word = block.head.load(Ordering::SeqCst);
    block.head_seen.store(word, Ordering::Relaxed);
    room_after(End::unpack(word))
}

/// Whether a record is published from `head` on. The caller holds the
/// consumer lock.
///
/// As in [`has_room`], the other way round: consumers keep their last view
/// of `tail` (`tail_seen`), never behind `head` (they take only what it
/// shows) and never ahead of `tail`, and read `tail` only when that view
/// shows nothing left.
fn has_record(block: &SharedBlock) -> bool {
    let head = head(block).pos;
    if End::unpack(block.tail_seen.load(Ordering::Relaxed)).pos != head {
        return true;
    }
    let word = block.tail.load(Ordering::SeqCst);
    block.tail_seen.store(word, Ordering::Relaxed);
    End::unpack(word).pos != head
}

/// Items put and not yet taken, across all processes.
pub(super) fn qsize(block: &SharedBlock) -> usize {
    ((tail(block).count.wrapping_sub(head(block).count)) & COUNT_MASK) as usize
}

/// Puts one item's bytes, once fewer than `maxsize` items are in the queue
/// (0: no bound); with a `deadline`, the whole item
/// must fit in the ring by then, or `Full` (it would otherwise be half
/// written at the deadline); without one, it streams through as consumers
/// take it.
///
/// # Errors
/// [`QueueError::Full`] at the deadline; a lock's error.
pub(super) fn put(
    block: &SharedBlock,
    item: &[u8],
    deadline: Option<Instant>,
    maxsize: usize,
) -> Result<(), QueueError> {
    let _guard = match block.producer_lock.lock_until(deadline)? {
        Locked::Held(guard) => guard,
        Locked::HolderDied(guard) => {
            end_abandoned_item(block);
            guard
        }
        Locked::TimedOut => return Err(QueueError::Full),
    };
    let whole = item_size(item.len());
    // With a deadline the whole item must fit now; without one, only its
    // first record (the rest streams through as consumers take it).
    let first = if deadline.is_some() { whole } else { 0 };
    let fits = || has_room(block, first, maxsize);
    if !block.head_moved.wait_until(deadline, fits) {
        return Err(QueueError::Full);
    }
    let mut chunks = item.chunks(CHUNK).peekable();
    let empty: &[u8] = &[];
    if chunks.peek().is_none() {
        publish(block, empty, true);
        return Ok(());
    }
    while let Some(chunk) = chunks.next() {
        publish(block, chunk, chunks.peek().is_none());
    }
    Ok(())
}

/// Writes one record and publishes it, waiting (with no deadline: the item
/// has begun) for room. The caller holds the producer lock.
fn publish(block: &SharedBlock, bytes: &[u8], last: bool) {
    let size = record_size(bytes.len());
    block
        .head_moved
        .wait_until(None, || has_room(block, size, 0));
    let end = tail(block);
    let mut header = [0u8; HEADER];
    header[..4].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
    header[4] = if last { LAST } else { 0 };
    // Safety: the caller holds the producer lock, and the `size` bytes from
    // `tail` on are free (checked above; consumers only free more).
    unsafe { block.ring_write(end.pos as usize, &header) };
    // Safety: as above.
    unsafe { block.ring_write(end.pos as usize + HEADER, bytes) };
    // The one store that publishes the record (and counts the item in, if
    // this is its last record).
    let moved = end.past(size, last, !last);
    block.tail.store(moved.pack(), Ordering::SeqCst);
    block.tail_moved.notify();
}

/// Called with the producer lock just taken from a process that died
/// holding it: if that process left an item half written, ends it with an
/// abandoned record, so that consumers drop what they read of it.
fn end_abandoned_item(block: &SharedBlock) {
    let end = tail(block);
    if !end.halfway {
        return; // It died before publishing anything of its item.
    }
    block
        .head_moved
        .wait_until(None, || has_room(block, HEADER, 0));
    let header = [0, 0, 0, 0, LAST | ABANDONED, 0, 0, 0];
    // Safety: the caller holds the producer lock; `HEADER` bytes are free.
    unsafe { block.ring_write(end.pos as usize, &header) };
    block
        .tail
        .store(end.past(HEADER, false, false).pack(), Ordering::SeqCst);
    block.tail_moved.notify();
}

/// Takes the next item's bytes, waiting until `deadline` for one to begin.
/// Once an item has begun, it is read to its end whatever the time.
///
/// # Errors
/// [`QueueError::Empty`] at the deadline; a lock's error.
pub(super) fn get(block: &SharedBlock, deadline: Option<Instant>) -> Result<Vec<u8>, QueueError> {
    let _guard = match block.consumer_lock.lock_until(deadline)? {
        Locked::Held(guard) | Locked::HolderDied(guard) => guard,
        Locked::TimedOut => return Err(QueueError::Empty),
    };
    // A consumer that died halfway through an item left the mark: the rest
    // of that item is skipped (it was the dead process's).
    let mut skipping = head(block).halfway;
    let mut item = Vec::new();
    loop {
        let begun = head(block).halfway && !skipping;
        if begun || skipping {
            // The rest of an item: however long it takes, unless its
            // producer died (then it ends abandoned).
            while !block
                .tail_moved
                .wait_until(Some(Instant::now() + STALL_CHECK), || has_record(block))
            {
                if skipping && deadline.is_some_and(|d| Instant::now() >= d) {
                    // Leave the skipping to the next consumer.
                    return Err(QueueError::Empty);
                }
                end_item_of_dead_producer(block);
            }
        } else if !block.tail_moved.wait_until(deadline, || has_record(block)) {
            return Err(QueueError::Empty);
        }
        let end = head(block);
        let mut header = [0u8; HEADER];
        // Safety: the caller holds the consumer lock, and `used > 0` says a
        // whole record is published from `head` on (records are published
        // whole).
        unsafe { block.ring_read(end.pos as usize, &mut header) };
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let (last, abandoned) = (header[4] & LAST != 0, header[4] & ABANDONED != 0);
        if len > CHUNK {
            return Err(WireError::Truncated {
                expected: CHUNK,
                got: len,
            }
            .into());
        }
        if !skipping && !abandoned {
            let at = item.len();
            item.resize(at + len, 0);
            // Safety: as above, the record's bytes after its header.
            unsafe { block.ring_read(end.pos as usize + HEADER, &mut item[at..]) };
        }
        // The one store that takes the record (and counts the item out, if
        // this is its last record and it was not abandoned).
        let moved = end.past(record_size(len), last && !abandoned, !last);
        block.head.store(moved.pack(), Ordering::SeqCst);
        block.head_moved.notify();
        if !last {
            continue;
        }
        if abandoned || skipping {
            // Nothing to give: go on to the next item, within the deadline.
            item.clear();
            skipping = false;
            continue;
        }
        return Ok(item);
    }
}

/// A consumer waits for the rest of an item: if its producer died (the
/// producer lock's holder is gone), end the item for it.
fn end_item_of_dead_producer(block: &SharedBlock) {
    if let Ok(Locked::HolderDied(_guard)) = block.producer_lock.lock_until(Some(Instant::now())) {
        end_abandoned_item(block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_end_packs_and_unpacks_and_wraps() {
        let end = End {
            pos: POS_MASK,
            count: COUNT_MASK,
            halfway: true,
        };
        assert_eq!(End::unpack(end.pack()), end);
        let moved = end.past(8, true, false);
        assert_eq!(
            moved,
            End {
                pos: 7,
                count: 0,
                halfway: false
            }
        );
        assert_eq!(RING as u64 & POS_MASK, RING as u64, "the ring divides 2^40");
    }

    #[test]
    fn an_item_takes_exactly_its_records() {
        assert_eq!(item_size(0), HEADER);
        assert_eq!(item_size(1), HEADER + 8);
        for len in [0, 1, 8, 100, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5] {
            // The records `put` writes: what `[u8]::chunks` cuts.
            let bytes = vec![0u8; len];
            let records: usize = if len == 0 {
                record_size(0)
            } else {
                bytes.chunks(CHUNK).map(|c| record_size(c.len())).sum()
            };
            assert_eq!(item_size(len), records, "{len}");
        }
    }
}
