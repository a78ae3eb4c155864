//! The measurements behind `cargo xtask bench`: the figures (`figures.rs`,
//! the one list of figure names and their peers), the run and its files
//! (`run.rs`), the measuring programs and the sweeps' sampling
//! (`programs.rs`), the sweeps themselves (`sweeps.rs`), the report
//! (`report.rs`) and the figures' chart (`chart.rs`).

pub mod chart;
pub mod figures;
pub mod programs;
pub mod report;
pub mod run;
pub mod sweeps;
