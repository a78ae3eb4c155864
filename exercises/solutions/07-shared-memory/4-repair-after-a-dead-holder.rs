//! Solution to exercise 07.4: `HolderDied` hands over the lock with the
//! news; the parent undoes the half-done transfer under it, then transfers.

use std::time::Duration;

use multiproc::{Event, LockError, Process, Value};

/// The accounts: (from, to).
type Accounts = Value<(i64, i64)>;

fn transfer_halfway(accounts: &Accounts, halfway: &Event) {
    let mut held = accounts.get_lock().expect("lock");
    held.0 -= 30;
    halfway.set();
    std::thread::sleep(Duration::from_secs(30)); // killed here
    held.1 += 30;
}

fn main() {
    let accounts: Accounts = Value::new((100, 0)).expect("a Value");
    let halfway = Event::new().expect("an Event");
    let mut child =
        Process::start(|| transfer_halfway(&accounts, &halfway)).expect("start the child");
    assert!(
        halfway.wait_timeout(Duration::from_secs(20)),
        "the child never got halfway"
    );
    child.kill().expect("kill");
    println!(
        "the child died halfway: exitcode {:?}",
        child.join().expect("join")
    );

    let mut held = match accounts.get_lock() {
        Ok(guard) => guard,
        Err(LockError::HolderDied(mut guard)) => {
            guard.0 += 30; // the 30 it took out and never put in
            guard
        }
        Err(other) => panic!("lock: {other}"),
    };
    held.0 -= 30;
    held.1 += 30;
    println!("after the transfer: from = {}, to = {}", held.0, held.1);
    println!("100 in all, as before: {}", held.0 + held.1 == 100);
}
