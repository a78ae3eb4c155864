//! The Python twins hold on every supported Python: each
//! `lessons/NN-name/python/lesson.py` runs to its end, without a traceback,
//! on the oldest and the newest Python 3 found here, and with forkserver
//! made the default start method first, as Linux's Python 3.14 has it (a
//! twin that needs fork must say so itself).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use harness::runner;
use harness::workspace;

/// Runs `python` on every twin, through `wrapper` (Python code that gets
/// the twin's path as `sys.argv[1]`), and lists what failed.
fn run_twins(python: &str, wrapper: &str) -> Vec<String> {
    let mut failures = Vec::new();
    for lesson in workspace::lessons().expect("cargo metadata") {
        let script = lesson.dir.join("python").join("lesson.py");
        let args = [
            "-c".to_string(),
            wrapper.to_string(),
            script.display().to_string(),
        ];
        let run = runner::run(Path::new(python), &args, Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("{python}: {e}"));
        // A twin's children may print tracebacks on purpose (lesson 02's
        // raising target): what counts is that the twin itself finished.
        if run.exit != 0 || run.timed_out {
            failures.push(format!(
                "{python} {}: exit {}{}\n{}",
                lesson.name,
                run.exit,
                if run.timed_out { " (timed out)" } else { "" },
                run.stderr
            ));
        }
    }
    failures
}

/// Runs the twin as a script, after `setup`.
fn wrapper(setup: &str) -> String {
    format!(
        "import runpy, sys\n{setup}\nsys.argv = sys.argv[1:]\nrunpy.run_path(sys.argv[0], run_name='__main__')"
    )
}

/// The Python 3 interpreters on this machine, oldest first, from 3.8 to
/// 3.13: on the PATH, or installed by pyenv.
fn pythons() -> Vec<String> {
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pyenv")))
        .map(|root| root.join("versions"));
    (8..=13)
        .filter_map(|minor| {
            let on_path = format!("python3.{minor}");
            let from_pyenv = pyenv.as_ref().and_then(|versions| {
                let dir = std::fs::read_dir(versions).ok()?;
                dir.filter_map(|e| e.ok())
                    .find(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .starts_with(&format!("3.{minor}."))
                    })
                    .map(|e| e.path().join("bin").join(&on_path).display().to_string())
            });
            [Some(on_path), from_pyenv]
                .into_iter()
                .flatten()
                .find(|python| {
                    Command::new(python)
                        .arg("--version")
                        .output()
                        .is_ok_and(|out| out.status.success())
                })
        })
        .collect()
}

#[test]
fn every_twin_runs_on_the_oldest_and_newest_python_here() {
    let found = pythons();
    let chosen: Vec<&String> = found.first().into_iter().chain(found.last()).collect();
    if chosen.is_empty() {
        eprintln!("no python3.8 to python3.13 here: nothing to run");
        return;
    }
    eprintln!("twins on: {chosen:?}");
    let mut failures = Vec::new();
    for python in chosen.iter().collect::<std::collections::BTreeSet<_>>() {
        failures.extend(run_twins(python, &wrapper("")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_twin_runs_where_forkserver_is_the_default() {
    let Some(python) = pythons().pop() else {
        eprintln!("no python3.8 to python3.13 here: nothing to run");
        return;
    };
    let failures = run_twins(
        &python,
        &wrapper("import multiprocessing\nmultiprocessing.set_start_method('forkserver')"),
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
