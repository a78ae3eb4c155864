//! A fake lesson that never ends, with a child that never ends either:
//! `verify` must kill the whole process group at the timeout.

fn main() {
    println!("a lesson that hangs");
    // Safety: single-threaded here; the child only sleeps.
    if unsafe { libc::fork() } < 0 {
        panic!("fork failed");
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}
