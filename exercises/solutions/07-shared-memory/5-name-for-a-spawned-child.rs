//! Solution to exercise 07.5: the spawned child gets the block's name, a
//! `String`, attaches to it, and writes its count there.

use multiproc::{Process, SharedMemory};

fn count_primes() -> u64 {
    (2..5000_u64)
        .filter(|&n| {
            (2..n)
                .take_while(|d| d * d <= n)
                .all(|d| !n.is_multiple_of(d))
        })
        .count() as u64
}

/// The spawned child's work.
fn count_into(name: String) {
    let memory = SharedMemory::attach(&name).expect("attach by name");
    memory.write(0, &count_primes().to_le_bytes());
}

fn main() {
    // Spawned children start here too: init() runs their function instead.
    multiproc::init();
    let memory = SharedMemory::create(8).expect("shared memory");
    let mut child = Process::spawn(count_into, memory.name().to_owned()).expect("spawn the child");
    println!(
        "the spawned child's exitcode: {}",
        child.join().expect("join")
    );
    let mut bytes = [0u8; 8];
    memory.read(0, &mut bytes);
    println!(
        "primes below 5000, counted by the child: {}",
        u64::from_le_bytes(bytes)
    );
}
