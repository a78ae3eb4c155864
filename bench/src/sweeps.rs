//! The sweeps' points: how each cost grows with the work (`cargo xtask
//! bench` draws the curves). Each reuses a figure's measurement where there
//! is one, with the size or the load as a parameter.

use std::time::{Duration, Instant};

use multiproc::{Pool, Process, Queue};

use crate::{fork_ours, fork_raw, per, pipe_one_way_ours, pipe_one_way_raw, spawn_ours};

/// One point of a sweep: seconds per operation.
///
/// - `size ours|raw|queue SIZE`: one-way messages of SIZE bytes through a
///   Pipe (ours), a raw framed pipe (raw), or a Queue of byte vectors (queue).
/// - `pool ours WORKERS,MICROS,CHUNKSIZE`: `imap` of tasks that each spin for
///   MICROS microseconds, on WORKERS workers: seconds per task.
/// - `start fork|spawn|raw MIB`: start and join a child while this process
///   has MIB MiB of memory it has written to (so every page is mapped).
pub fn sweep_point(
    sweep: &str,
    implementation: &str,
    count: u64,
    parameter: &str,
) -> Result<f64, String> {
    let number = |text: &str| {
        text.parse::<u64>()
            .map_err(|_| format!("`{text}` is not a whole number"))
    };
    match (sweep, implementation) {
        ("size", "ours") => Ok(pipe_one_way_ours(count, number(parameter)? as usize)),
        ("size", "raw") => Ok(pipe_one_way_raw(count, number(parameter)? as usize)),
        ("size", "queue") => Ok(queue_bytes_ours(count, number(parameter)? as usize)),
        ("pool", "ours") => {
            let fields: Vec<u64> = parameter.split(',').map(number).collect::<Result<_, _>>()?;
            let [workers, micros, chunksize] = fields[..] else {
                return Err("pool takes WORKERS,MICROS,CHUNKSIZE".into());
            };
            Ok(pool_sweep(
                count,
                workers as usize,
                micros,
                chunksize as usize,
            ))
        }
        ("start", method) => {
            let ballast = touched_memory(number(parameter)? as usize);
            let per_op = match method {
                "fork" => fork_ours(count),
                "spawn" => spawn_ours(count),
                "raw" => fork_raw(count),
                other => return Err(format!("start takes fork, spawn or raw, not `{other}`")),
            };
            drop(std::hint::black_box(ballast));
            Ok(per_op)
        }
        _ => Err(format!("no sweep `{sweep}` with `{implementation}`")),
    }
}

/// Items of `size` bytes through a Queue, from a child to this process.
fn queue_bytes_ours(count: u64, size: usize) -> f64 {
    let queue: Queue<Vec<u8>> = Queue::new(0).unwrap();
    let item = vec![7u8; size];
    let mut child = Process::start(|| {
        for _ in 0..count {
            queue.put(&item).unwrap();
        }
    })
    .unwrap();
    let start = Instant::now();
    for _ in 0..count {
        assert_eq!(queue.get().unwrap().len(), size);
    }
    let took = start.elapsed();
    child.join().unwrap();
    per(took, count)
}

/// A task that keeps its CPU busy for `micros` microseconds.
fn spin(micros: u64) -> u64 {
    let until = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
    micros
}

fn pool_sweep(count: u64, workers: usize, micros: u64, chunksize: usize) -> f64 {
    let pool = Pool::new(workers).unwrap();
    let start = Instant::now();
    let done = pool
        .imap(spin, std::iter::repeat_n(micros, count as usize), chunksize)
        .unwrap()
        .map(Result::unwrap)
        .count();
    let took = start.elapsed();
    assert_eq!(done as u64, count);
    pool.close();
    pool.join().unwrap();
    per(took, count)
}

/// `mib` MiB written to, one byte a page, so that every page is mapped and
/// a fork has page tables to copy.
fn touched_memory(mib: usize) -> Vec<u8> {
    let mut memory = vec![0u8; mib << 20];
    for page in memory.chunks_mut(4096) {
        page[0] = 1;
    }
    memory
}
