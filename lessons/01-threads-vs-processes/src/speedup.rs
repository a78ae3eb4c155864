//! What section 4's figures mean: the best a pool can do on these tasks
//! (the in-order schedule and its makespan), and the conclusion the
//! figures allow, given what the machine allowed (`machine.rs` measures
//! that).

use std::time::Duration;

/// What this machine allowed while the lesson ran.
pub struct Machine {
    /// CPUs this process may use.
    pub cpus: usize,
    /// The share of CPU time other programs took.
    pub others: f64,
    /// How many times as fast two busy loops ran on two threads as one
    /// alone: 2.0 with two whole CPUs.
    pub capacity: f64,
}

/// The conclusion the figures allow: the `workers`' `speedups` (threads,
/// processes) against the in-order `bound`, given what the machine allowed.
pub fn what_the_speedups_say(
    machine: &Machine,
    workers: usize,
    bound: f64,
    speedups: [f64; 2],
) -> String {
    let Machine {
        cpus,
        others,
        capacity,
    } = *machine;
    let near = |speedup: f64| speedup >= 0.85 * bound;
    if cpus < 2 && speedups.iter().any(|&s| s > 1.15) {
        "with 1 CPU no speedup is possible, yet a pool beat serial: the serial runs were slowed \
         (the CPU's speed varied)."
            .into()
    } else if cpus < 2 {
        "with 1 CPU the workers take turns: no speedup is possible here.".into()
    } else if cpus < workers {
        format!("{workers} workers share {cpus} CPUs: the bound assumes a CPU for each worker.")
    } else if others > 0.2 {
        "other programs took CPU time meanwhile: these figures are not the pools' own, nor the machine's.".into()
    } else if speedups.iter().any(|&s| s > 1.1 * bound) {
        "a pool beat the bound: the serial run was slowed (the CPUs' speed varied).".into()
    } else if speedups.iter().all(|&s| near(s)) {
        format!("with {cpus} free CPUs, both pools came within 15% of the bound.")
    } else if capacity < 0.85 * 2.0 && speedups.iter().all(|&s| s <= 1.1 * capacity) {
        format!(
            "this machine ran two busy loops only {capacity:.2}x as fast as one: no pool can do better."
        )
    } else {
        "a pool fell over 15% short on free CPUs (the CPUs' speed varied?): run it again.".into()
    }
}

/// The schedule both pools follow: each worker, once free, takes the next
/// task in order.
pub struct Schedule {
    /// Which tasks (by index) each worker runs, in the order it runs them.
    pub lanes: Vec<Vec<usize>>,
    /// When the last worker is done: the best time these workers can reach.
    pub makespan: Duration,
}

impl Schedule {
    /// The in-order schedule of tasks taking `times` on `workers` workers.
    pub fn in_order(times: &[Duration], workers: usize) -> Schedule {
        let mut free_at = vec![Duration::ZERO; workers];
        let mut lanes = vec![Vec::new(); workers];
        for (i, &time) in times.iter().enumerate() {
            let first_free = (0..workers).min_by_key(|&w| free_at[w]).expect("a worker");
            free_at[first_free] += time;
            lanes[first_free].push(i);
        }
        Schedule {
            lanes,
            makespan: free_at.into_iter().max().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_conclusion_follows_from_the_figures() {
        let machine = |cpus, others, capacity| Machine {
            cpus,
            others,
            capacity,
        };
        let say = |m: Machine, workers, bound, speedups| {
            what_the_speedups_say(&m, workers, bound, speedups)
        };
        assert!(
            say(machine(1, 0.0, 1.0), 2, 1.56, [1.0, 1.0]).contains("no speedup is possible here")
        );
        assert!(say(machine(1, 0.0, 1.0), 2, 1.56, [1.4, 1.0]).contains("slowed"));
        assert!(say(machine(2, 0.5, 2.0), 2, 1.56, [1.5, 1.5]).contains("other programs"));
        let shared = say(machine(2, 0.0, 1.1), 2, 1.56, [1.1, 1.0]);
        assert!(shared.contains("only 1.10x"), "{shared}");
        // A pool faster than the busy loops: the probe is not the reason.
        let probe_off = say(machine(2, 0.0, 1.1), 2, 1.56, [1.5, 1.0]);
        assert!(probe_off.contains("fell over 15% short"), "{probe_off}");
        // Both near the bound: that holds whatever the probe said.
        assert!(say(machine(2, 0.0, 1.1), 2, 1.56, [1.5, 1.4]).contains("within 15%"));
        assert!(say(machine(2, 0.0, 2.0), 2, 1.56, [2.8, 1.5]).contains("beat the bound"));
        assert!(say(machine(2, 0.0, 2.0), 2, 1.56, [1.5, 1.4]).contains("within 15%"));
        assert!(say(machine(2, 0.0, 2.0), 2, 1.56, [1.5, 1.0]).contains("fell over 15% short"));
        // More workers than CPUs is not "1 CPU".
        let three_on_two = say(machine(2, 0.0, 2.0), 3, 1.93, [1.3, 1.6]);
        assert!(
            three_on_two.contains("workers share 2 CPUs"),
            "{three_on_two}"
        );
    }

    #[test]
    fn the_makespan_is_the_last_lane_to_finish() {
        let ms = Duration::from_millis;
        let schedule = Schedule::in_order(&[ms(30), ms(10), ms(10), ms(40)], 2);
        assert_eq!(schedule.lanes, [vec![0], vec![1, 2, 3]]);
        assert_eq!(schedule.makespan, ms(60));
    }
}
