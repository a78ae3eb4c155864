//! The measurements behind `cargo xtask bench`: the figures and their goals
//! (`figures.rs`, the one list of figure names), and the interleaved run,
//! the reports and the chart (`run.rs`).

pub mod figures;
pub mod run;
pub mod sweeps;
