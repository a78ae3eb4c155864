//! Solution to exercise 03.3: a panicked task is an `Err` to print, not a
//! reason to stop.

use multiproc::Pool;

fn parse(reading: String) -> u32 {
    match reading.parse() {
        Ok(value) => value,
        Err(_) => panic!("not a number: {reading:?}"),
    }
}

fn main() {
    let readings = ["12", "7", "oops", "30"];
    let pool = Pool::new(2).expect("start a pool of 2 workers");
    let handles: Vec<_> = readings
        .iter()
        .map(|r| pool.apply_async(parse, r.to_string()).expect("submit"))
        .collect();
    let mut total = 0;
    for (reading, handle) in readings.iter().zip(&handles) {
        match handle.get() {
            Ok(value) => {
                println!("reading {reading:?}: {value}");
                total += value;
            }
            Err(e) => println!("reading {reading:?}: failed: {e}"),
        }
    }
    println!("total of the good readings: {total}");
    pool.close();
    pool.join().expect("join the pool");
}
