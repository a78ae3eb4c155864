//! Solution to exercise 05.5: a pipe for each writer, so each write end has
//! one writer and no message can be cut by another's bytes.

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
    let (mut reader_a, mut writer_a) = Pipe::one_way().expect("a pipe for A");
    let (mut reader_b, mut writer_b) = Pipe::one_way().expect("a pipe for B");
    let mut a = Process::start(|| {
        reader_a.close();
        reader_b.close();
        writer_b.close();
        write_messages(&mut writer_a, b'A');
    })
    .expect("start writer A");
    let mut b = Process::start(|| {
        reader_a.close();
        reader_b.close();
        writer_a.close();
        write_messages(&mut writer_b, b'B');
    })
    .expect("start writer B");
    writer_a.close();
    writer_b.close();
    let mut whole = [0, 0];
    let broke = read_all(&mut reader_a, &mut whole).or_else(|| read_all(&mut reader_b, &mut whole));
    reader_a.close();
    reader_b.close();
    let _ = a.join();
    let _ = b.join();
    println!("whole messages from A: {}, from B: {}", whole[0], whole[1]);
    println!("the stream broke: {}", broke.is_some());
}
