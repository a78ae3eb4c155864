//! One file per command, named after it (`check --solutions` in
//! `check_solutions.rs`); here what several of them share.

pub mod bench;
pub mod bless;
pub mod check;
pub mod check_solutions;
pub mod codegen;
pub mod compare;
pub mod hint;
pub mod list;
pub mod progress;
pub mod run;
pub mod timeline;
pub mod verify;
pub mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use harness::workspace::{self, Lesson};

use crate::flags::Usage;

pub fn selected(names: &[String]) -> Result<Vec<Lesson>, Usage> {
    let all = workspace::lessons().map_err(Usage)?;
    workspace::select(&all, names).map_err(Usage)
}

pub fn binary_for(binaries: &workspace::Binaries, lesson: &Lesson) -> PathBuf {
    binaries
        .iter()
        .find(|(name, _)| *name == lesson.package)
        .map(|(_, path)| path.clone())
        .expect("build() checked every lesson has a binary")
}

pub fn build_or_fail(lessons: &[Lesson]) -> Result<workspace::Binaries, ExitCode> {
    workspace::build(lessons, false).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}
