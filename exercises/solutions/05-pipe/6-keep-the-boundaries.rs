//! Solution to exercise 05.6: a framed pipe keeps each message whole and
//! apart; end of stream says there are no more.

use multiproc::{Pipe, Process, WireError};

fn main() {
    let (mut reader, mut writer) = Pipe::one_way().expect("a pipe");
    let mut child = Process::start(|| {
        reader.close();
        for word in ["apple", "banana", "cherry"] {
            writer.send_bytes(word.as_bytes()).expect("send");
        }
    })
    .expect("start the child");
    writer.close();
    let mut words = Vec::new();
    loop {
        match reader.recv_bytes() {
            Ok(bytes) => words.push(String::from_utf8_lossy(&bytes).into_owned()),
            Err(WireError::Eof) => break,
            Err(e) => panic!("recv: {e}"),
        }
    }
    child.join().expect("join");
    println!("messages: {words:?}");
}
