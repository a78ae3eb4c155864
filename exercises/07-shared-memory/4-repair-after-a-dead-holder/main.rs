//! Exercise 07.4: take over a lock whose holder died, and repair
//!
//! Lesson 07, section 5 ("A process dies holding the lock: the next one is
//! told, and recovers").
//! Python has no counterpart: a `multiprocessing.Lock` whose holder died
//! stays taken for good, and every later `acquire` waits for ever.
//!
//! Two accounts hold 100 in all. A transfer takes 30 out of one and puts it
//! into the other, under the Value's lock. A child dies halfway through one
//! (it is killed after the first step). Today the parent's next
//! `get_lock().expect(...)` panics on the news. Take the lock anyway, undo
//! the half-done transfer (put the 30 back where they came from), then make
//! the transfer yourself: the accounts must hold 100 in all, as before.
//!
//! Check: `cargo xtask check 07.4`. Stuck: `cargo xtask hint 07.4`.

use std::time::Duration;

use multiproc::{Event, Process, Value};

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

    // TODO: the lock's last holder died holding it. Take it over, undo the
    // half-done transfer, and go on.
    let mut held = accounts.get_lock().expect("lock");
    held.0 -= 30;
    held.1 += 30;
    println!("after the transfer: from = {}, to = {}", held.0, held.1);
    println!("100 in all, as before: {}", held.0 + held.1 == 100);
}
