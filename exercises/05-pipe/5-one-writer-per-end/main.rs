//! Exercise 05.5: one writer per end
//!
//! Lesson 05, section 6 ("One writer per end: two writers interleave their
//! bytes").
//! CPython's documentation of `Pipe`:
//!
//!     # data in a pipe may become corrupted if two processes (or threads)
//!     # try to read from or write to the same end of the pipe at once
//!
//! Two children each send 20 messages of 64 KiB through the same write end.
//! A write that large is not atomic: when the pipe fills, the other writer's
//! bytes can land in the middle of a message, and the reader then takes a
//! length prefix from the middle of someone's data. Make every message
//! arrive whole. Keep the two children and their messages as they are.
//!
//! Check: `cargo xtask check 05.5`. Stuck: `cargo xtask hint 05.5`.

use multiproc::{Pipe, Process, RecvEnd, SendEnd};

const MESSAGES: usize = 20;
const SIZE: usize = 64 * 1024;

fn write_messages(end: &mut SendEnd, letter: u8) {
    for _ in 0..MESSAGES {
        end.send_bytes(&[letter; SIZE]).expect("send");
    }
}

/// Reads messages until end of stream; returns how many arrived whole from
/// each writer, and why the stream broke, if it did.
fn read_all(reader: &mut RecvEnd, whole: &mut [usize; 2]) -> Option<String> {
    loop {
        match reader.recv_bytes() {
            Ok(message) => {
                let letter = message.first().copied().unwrap_or(0);
                let same = message.len() == SIZE && message.iter().all(|&b| b == letter);
                match letter {
                    b'A' if same => whole[0] += 1,
                    b'B' if same => whole[1] += 1,
                    _ => return Some("a message mixed from both writers".into()),
                }
            }
            Err(multiproc::WireError::Eof) => return None,
            Err(e) => return Some(e.to_string()),
        }
    }
}

fn main() {
    // TODO: one write end for each writer.
    let (mut reader, mut writer) = Pipe::one_way().expect("a pipe");
    let mut writers: Vec<Process> = [b'A', b'B']
        .into_iter()
        .map(|letter| {
            Process::start(|| {
                reader.close();
                write_messages(&mut writer, letter);
            })
            .expect("start a writer")
        })
        .collect();
    writer.close();
    let mut whole = [0, 0];
    let broke = read_all(&mut reader, &mut whole);
    // A writer still sending into a stream nobody reads gets a broken pipe.
    reader.close();
    for w in &mut writers {
        let _ = w.join();
    }
    println!("whole messages from A: {}, from B: {}", whole[0], whole[1]);
    println!("the stream broke: {}", broke.is_some());
}
