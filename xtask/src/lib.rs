//! The course's tooling, as a library, so that `cargo test` runs the same
//! golden check as `cargo xtask verify`.

pub mod bench;
pub mod bench_run;
pub mod bless;
pub mod compare;
pub mod diff;
pub mod golden;
pub mod runner;
pub mod verify;
pub mod workspace;
