//! What the course's tools and tests share, so that `cargo test` runs the
//! very check `cargo xtask verify` runs: the lesson runner (own process
//! group, stdin closed, timeout that kills the group, leak check), the
//! golden format ([`golden`], specified in `docs/golden-format.md`),
//! [`verify`], the workspace's lessons and binaries, and the checks every
//! lesson's own CLI tests make ([`lesson_cli`]).

pub mod codegen;
pub mod diff;
pub mod exercises;
pub mod golden;
pub mod lesson_cli;
pub mod runner;
pub mod verify;
pub mod workspace;
