//! Solution to exercise 05.4: a broken pipe ends the loop; it is how the
//! writer learns that its reader left.

use std::time::Duration;

use multiproc::{Pipe, Process, WireError};

fn main() {
    let (mut reader, mut writer) = Pipe::one_way().expect("a pipe");
    let mut child = Process::start(|| {
        writer.close();
        for _ in 0..3 {
            let n: u64 = reader.recv().expect("a number");
            println!("reader got {n}");
        }
    })
    .expect("start the reader");
    reader.close();

    let mut sent = 0_u64;
    loop {
        match writer.send(&sent) {
            Ok(()) => sent += 1,
            Err(WireError::BrokenPipe) => {
                println!("the reader is gone: the send failed with a broken pipe");
                break;
            }
            Err(other) => panic!("send: {other}"),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.join().expect("join");
    println!("sent {sent} numbers; the reader took 3 and left");
}
