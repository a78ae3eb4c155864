//! What the machine allowed while lesson 01 ran: the CPUs this process may
//! use, the CPU time other programs took, and how much faster two busy
//! loops run at once than one after the other. Section 4's conclusion
//! (`speedup.rs`) is drawn from these, so that it never blames the pools
//! for the machine.

use std::thread;
use std::time::Duration;

use course::{ratio, timed};
use nix::sched::{CpuSet, sched_getaffinity};
use nix::unistd::Pid;

/// Two identical busy loops, one alone and then two at once on two threads:
/// how much parallel work this machine really gives (the median of three
/// tries). A VM's two CPUs may share one physical core with other VMs. Each
/// loop repeats `step` as often as it takes to run 50ms alone, so that the
/// figure is about the CPUs, not about starting two threads.
pub fn parallel_capacity(step: fn()) -> f64 {
    let run = |steps: u32| (0..steps).for_each(|_| step());
    let mut steps = 1u32;
    while timed(|| run(steps)).1 < Duration::from_millis(50) {
        steps = steps.saturating_mul(2);
    }
    let mut tries: Vec<f64> = (0..3)
        .map(|_| {
            let ((), alone) = timed(|| run(steps));
            let ((), both) = timed(|| {
                thread::scope(|s| {
                    s.spawn(|| run(steps));
                    s.spawn(|| run(steps));
                });
            });
            2.0 * ratio(alone, both)
        })
        .collect();
    tries.sort_by(f64::total_cmp);
    tries[1]
}

/// The CPUs this process may run on (its affinity mask).
pub fn usable_cpus() -> usize {
    let set = sched_getaffinity(Pid::from_raw(0)).expect("sched_getaffinity");
    (0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .count()
}

/// A snapshot of CPU time: the whole machine's, from `/proc/stat`, and this
/// process's own, children included (the pools' workers are reaped by the
/// time it is read again).
pub struct CpuUse {
    machine_busy: f64,
    machine_total: f64,
    own: f64,
}

impl CpuUse {
    pub fn now() -> CpuUse {
        let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
        // "cpu  user nice system idle iowait irq softirq steal ...", in ticks.
        let ticks: Vec<f64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .take(8)
            .filter_map(|t| t.parse().ok())
            .collect();
        let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100) as f64;
        let total: f64 = ticks.iter().sum::<f64>() / hz;
        let idle = (ticks.get(3).unwrap_or(&0.0) + ticks.get(4).unwrap_or(&0.0)) / hz;
        let seconds = |who| {
            let usage = nix::sys::resource::getrusage(who).expect("getrusage");
            let time = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            time(usage.user_time()) + time(usage.system_time())
        };
        CpuUse {
            machine_busy: total - idle,
            machine_total: total,
            own: seconds(nix::sys::resource::UsageWho::RUSAGE_SELF)
                + seconds(nix::sys::resource::UsageWho::RUSAGE_CHILDREN),
        }
    }

    /// The share of the machine's CPU time since `self` that went to other
    /// programs: 0 on a quiet machine, near 1 when something else used
    /// every CPU.
    pub fn share_used_by_others(&self) -> f64 {
        let now = CpuUse::now();
        let total = now.machine_total - self.machine_total;
        let others = (now.machine_busy - self.machine_busy) - (now.own - self.own);
        if total <= 0.0 {
            0.0
        } else {
            (others / total).clamp(0.0, 1.0)
        }
    }
}
