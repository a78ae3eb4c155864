//! The measuring behind `cargo xtask bench` (the command itself is
//! `commands/bench.rs`), split by what a part is, never by which kind of
//! measurement it serves:
//! - data: the figures (`figures.rs`, the one list of figure names and
//!   their peers) and the sweeps (`sweeps.rs`);
//! - measuring: the measuring programs and the sampling (`programs.rs`),
//!   the run and its files (`run.rs`);
//! - rendering, for figures and sweeps alike: the tables (`report.rs`) and
//!   the charts (`chart.rs`).

pub mod chart;
pub mod figures;
pub mod programs;
pub mod report;
pub mod run;
pub mod sweeps;
