//! Each teaching point that a lesson states is checked: break it in the
//! lesson's source, and `cargo xtask verify` must fail. Each mutation below
//! breaks one point in a copy of the workspace, one at a time.
//!
//! The copy builds into a target directory of its own (`target/mutants`):
//! sharing this workspace's would overwrite its lesson binaries with the
//! broken ones.

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::workspace;

/// (name, lesson, file, text to replace, replacement): each breaks one
/// teaching point while the lesson still builds and runs.
const MUTATIONS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "A: the process pool's results in submission order, not as_completed",
        "01",
        "lessons/01-threads-vs-processes/src/main.rs",
        "for handle in as_completed(handles) {\n        let task = handle.get().expect(\"a task failed\");\n        println!",
        "for handle in handles {\n        let task = handle.get().expect(\"a task failed\");\n        println!",
    ),
    (
        "D: section 6 no longer pins itself to one CPU",
        "01",
        "lessons/01-threads-vs-processes/src/main.rs",
        "    pin_to_current_cpu();\n",
        "",
    ),
    (
        "E: the second map also at chunksize 1",
        "03",
        "lessons/03-pool-imap/src/main.rs",
        "pool.map(square_and_pid, 0..10, 4)",
        "pool.map(square_and_pid, 0..10, 1)",
    ),
    (
        "F: the tiny tasks' second imap also at chunksize 1",
        "03",
        "lessons/03-pool-imap/src/main.rs",
        "pool.imap(identity, 0..items, 1000)",
        "pool.imap(identity, 0..items, 1)",
    ),
    (
        "B: each sleeping thread joined before the next starts",
        "01",
        "lessons/01-threads-vs-processes/src/main.rs",
        "scope.spawn(|| thread::sleep(NAP));",
        "scope.spawn(|| thread::sleep(NAP)).join().unwrap();",
    ),
    (
        "C: imap_unordered's results collected, then printed",
        "03",
        "lessons/03-pool-imap/src/main.rs",
        "    for result in pool.imap_unordered(nap, NAPS, 1).expect(\"queue the tasks\") {",
        "    let all: Vec<_> = pool.imap_unordered(nap, NAPS, 1).expect(\"queue the tasks\").collect();\n    for result in all {",
    ),
    (
        "K: the producer does not sleep, so recv never waits",
        "05",
        "lessons/05-pipe/src/main.rs",
        "        std::thread::sleep(Duration::from_millis(500));\n        send_end.send(\"a\")",
        "        send_end.send(\"a\")",
    ),
    (
        "G: lesson 02's rayon pool gets 3 threads, not the 2 it states",
        "02",
        "lessons/02-fork/src/main.rs",
        ".num_threads(2)",
        ".num_threads(3)",
    ),
    (
        "H: lesson 03's rayon pool gets 3 threads, not the 2 it states",
        "03",
        "lessons/03-pool-imap/src/main.rs",
        ".num_threads(2)",
        ".num_threads(3)",
    ),
    (
        "I: the proxy's timed loop no longer goes through the proxy",
        "06",
        "lessons/06-manager-dict/src/main.rs",
        "d.set(\"k\", &i).expect(\"set\");\n                std::hint::black_box(d.get(\"k\").expect(\"get\"));",
        "std::hint::black_box(i);",
    ),
    (
        "L: the raw pipe's read has room for one byte only",
        "05",
        "lessons/05-pipe/src/main.rs",
        "raw_reader.read(&mut buffer)",
        "raw_reader.read(&mut buffer[..1])",
    ),
    (
        "M: lesson 07's racy increments made one step under the lock",
        "07",
        "lessons/07-shared-memory/src/main.rs",
        "            std::thread::sleep(Duration::from_micros(50));\n            count.set(n + 1).expect(\"set\");",
        "            let _ = n;\n            *count.get_lock().expect(\"lock\") += 1;",
    ),
    (
        "N: the lock fix's increments done as a get, then a set",
        "07",
        "lessons/07-shared-memory/src/main.rs",
        "*locked.get_lock().expect(\"lock\") += 1;",
        "let n = locked.get().expect(\"get\");\n                locked.set(n + 1).expect(\"set\");",
    ),
    (
        "P: the semaphore gets one seat more than it states",
        "07",
        "lessons/07-shared-memory/src/main.rs",
        "Semaphore::new(SEATS)",
        "Semaphore::new(SEATS + 1)",
    ),
    (
        "Q: the staggered workers do not wait at the barrier",
        "07",
        "lessons/07-shared-memory/src/main.rs",
        "                barrier.wait(Duration::from_secs(30)).expect(\"barrier\");\n",
        "",
    ),
];

#[test]
fn verify_fails_on_each_broken_teaching_point() {
    let root = workspace::root();
    let copy =
        Scratch(std::env::temp_dir().join(format!("course-mutations-{}", std::process::id())));
    let copy = &copy.0;
    copy_tree(&root, copy);
    let mut not_caught = Vec::new();
    for (name, lesson, file, from, to) in MUTATIONS {
        let path = copy.join(file);
        let original = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            original.matches(from).count(),
            1,
            "mutation {name}: `{from}` must occur once in {file}"
        );
        std::fs::write(&path, original.replace(from, to)).unwrap();
        // One run: each point's evidence is wide enough (hundreds of ms
        // of margin, or a setup read back) that a break fails every run.
        let output = Command::new(env!("CARGO"))
            .args(["run", "-q", "-p", "xtask", "--", "verify", lesson])
            .current_dir(copy)
            .env("CARGO_TARGET_DIR", root.join("target").join("mutants"))
            .env_remove("CI")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        if output.status.success() || !stdout.contains("FAIL") {
            not_caught.push(format!(
                "{name}:\n{stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        std::fs::write(&path, original).unwrap();
    }
    assert!(
        not_caught.is_empty(),
        "verify passed with:\n{}",
        not_caught.join("\n")
    );
}

/// The scratch copy, removed however the test ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copies the workspace's sources (everything but `target` and `.git`).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let (source, dest): (PathBuf, PathBuf) = (entry.path(), to.join(&name));
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&source, &dest);
        } else if let Err(e) = std::fs::copy(&source, &dest) {
            // A file that went away meanwhile (a Python cache) is not source.
            assert_eq!(
                e.kind(),
                std::io::ErrorKind::NotFound,
                "{}: {e}",
                source.display()
            );
        }
    }
}
