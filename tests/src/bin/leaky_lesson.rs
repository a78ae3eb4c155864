//! A fake lesson that breaks the course's rule "every child is reaped": it
//! forks a child that outlives it. `verify` must fail it with "leaked a child
//! process".

fn main() {
    println!("a lesson that leaves a child behind");
    // Safety: single-threaded here (nothing has started a thread), and the
    // child only sleeps and leaves with `_exit`.
    match unsafe { libc::fork() } {
        0 => {
            // Safety: a plain call with no pointers.
            unsafe { libc::sleep(30) };
            // Safety: `_exit` takes an integer and never returns.
            unsafe { libc::_exit(0) }
        }
        -1 => panic!("fork failed"),
        _child => {} // Exits without waiting: the child is left behind.
    }
}
