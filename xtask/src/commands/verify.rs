//! `cargo xtask verify`: every lesson against its golden file.

use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use harness::verify::{self, Failure};
use harness::workspace::{self, Lesson};

use super::{binary_for, build_or_fail, selected};
use crate::flags::{Args, Outcome, Usage};

pub fn cmd_verify(args: Args) -> Outcome {
    let repeat = args.count("--repeat", 1)?;
    let goldens: Option<PathBuf> = args.value("--goldens").map(PathBuf::from);
    if let Some(dir) = &goldens
        && !dir.is_dir()
    {
        return Err(Usage(format!(
            "--goldens {}: no such directory",
            dir.display()
        )));
    }
    let lessons = selected(&args.names)?;
    let binaries = match build_or_fail(&lessons) {
        Ok(b) => b,
        Err(code) => return Ok(code),
    };
    let saved_under = workspace::target_dir().join("xtask").join("verify");
    let (mut passed, mut failed) = (0u32, 0u32);
    let started = Instant::now();
    for round in 1..=repeat {
        let mut slowest = Duration::ZERO;
        for lesson in &lessons {
            let binary = binary_for(&binaries, lesson);
            match verify::verify_lesson(lesson, &binary, goldens.as_deref()) {
                Ok(took) => {
                    passed += 1;
                    slowest = slowest.max(took);
                    if repeat == 1 {
                        println!("ok    {} ({took:.1?})", lesson.name);
                    }
                }
                Err(failure) => {
                    failed += 1;
                    report_failure(lesson, &failure, &saved_under, round);
                }
            }
        }
        if repeat > 1 {
            println!(
                "round {round}/{repeat}: {passed} passed, {failed} failed so far (slowest lesson {slowest:.1?})"
            );
        }
    }
    println!("verify took {:.1?}", started.elapsed());
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn report_failure(lesson: &Lesson, failure: &Failure, saved_under: &Path, round: u32) {
    println!("FAIL  {failure}");
    if let Some(run) = &failure.run {
        let dir = saved_under.join(&lesson.name);
        let stem = dir.join(format!("round-{round}"));
        let saved = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(stem.with_extension("stdout"), &run.stdout))
            .and_then(|()| std::fs::write(stem.with_extension("stderr"), &run.stderr));
        match saved {
            Ok(()) => println!("      raw output: {}.{{stdout,stderr}}", stem.display()),
            Err(e) => println!(
                "      (could not save the raw output under {}: {e})",
                dir.display()
            ),
        }
    }
}
