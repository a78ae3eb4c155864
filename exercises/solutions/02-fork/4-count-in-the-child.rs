//! Solution to exercise 02.4: the child ends with the count as its exit
//! code, and the parent reads it from `join`.

use multiproc::Process;

fn is_prime(n: u32) -> bool {
    n >= 2
        && (2..n)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

fn count_primes() -> u32 {
    (2..1000).filter(|&n| is_prime(n)).count() as u32
}

fn main() {
    let mut child = Process::start_with_code(|| {
        i32::try_from(count_primes()).expect("a count of primes below 1000")
    })
    .expect("start the child");
    let primes = child.join().expect("join");
    println!("primes below 1000, counted in the child: {primes}");
    println!("counted here instead: {}", count_primes());
}
