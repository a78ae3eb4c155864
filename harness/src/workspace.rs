//! Where things are: the workspace root, the lessons (from `cargo metadata`),
//! and the lesson binaries (from `cargo build --message-format=json`). Nothing
//! here assumes a `target/` path.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

/// The workspace root: the folder above this crate, wherever the command was
/// started from.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the harness lives inside the workspace")
        .to_path_buf()
}

/// A path relative to the workspace root, for messages.
pub fn shown(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The cargo that runs us (`$CARGO`), so the same toolchain builds the lessons.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

/// One lesson, as its `Cargo.toml` describes it.
#[derive(Debug, Clone)]
pub struct Lesson {
    /// The folder name under `lessons/`: `01-threads-vs-processes`.
    pub name: String,
    /// The package name: `lesson-01-threads-vs-processes`.
    pub package: String,
    /// What it teaches (the package description).
    pub title: String,
    /// The Python it ports (`[package.metadata.course] python`).
    pub python: String,
    /// What it teaches, for the README's table (`[package.metadata.course]
    /// teaches`).
    pub teaches: String,
    /// The lesson's folder.
    pub dir: PathBuf,
}

impl Lesson {
    /// The golden file for stdout.
    pub fn golden_stdout(&self, goldens: Option<&Path>) -> PathBuf {
        self.golden_dir(goldens).join("golden.stdout")
    }

    /// The golden file for stderr (optional: without it, stderr must be empty).
    pub fn golden_stderr(&self, goldens: Option<&Path>) -> PathBuf {
        self.golden_dir(goldens).join("golden.stderr")
    }

    /// The folder of its golden files: its own, or `goldens/NN-name`.
    pub fn golden_dir(&self, goldens: Option<&Path>) -> PathBuf {
        match goldens {
            Some(dir) => dir.join(&self.name),
            None => self.dir.clone(),
        }
    }

    /// True if `query` names this lesson: `01`, `1`, `01-threads-vs-processes`,
    /// `threads-vs-processes` or the package name.
    pub fn is_named(&self, query: &str) -> bool {
        let number = self.name.split('-').next().unwrap_or("");
        query == self.name
            || query == self.package
            || query == number
            || query
                .parse::<u32>()
                .ok()
                .is_some_and(|n| number.parse::<u32>().ok() == Some(n))
            || self
                .name
                .split_once('-')
                .is_some_and(|(_, rest)| rest == query)
    }
}

/// `cargo metadata`, as JSON.
///
/// # Errors
/// A message if `cargo metadata` cannot run or prints invalid JSON.
pub fn metadata() -> Result<Value, String> {
    let output = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err("cargo metadata failed (see above)".into());
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("cargo metadata printed invalid JSON: {e}"))
}

/// What `cargo metadata` says of the workspace, asked once per process.
#[derive(Debug)]
pub struct Workspace {
    /// Where cargo builds (for saving raw outputs, and the exercises' and
    /// bench's own target folders below it).
    pub target_dir: PathBuf,
    /// The lessons, in order (their folders sort by number).
    pub lessons: Vec<Lesson>,
}

impl Workspace {
    /// The workspace, from one `cargo metadata` call made on first use.
    ///
    /// # Errors
    /// As [`metadata`] (the same message on every later call).
    pub fn get() -> Result<&'static Workspace, String> {
        static WORKSPACE: OnceLock<Result<Workspace, String>> = OnceLock::new();
        WORKSPACE
            .get_or_init(|| metadata().map(|m| Workspace::from_metadata(&m)))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn from_metadata(metadata: &Value) -> Workspace {
        let lessons_dir = root().join("lessons");
        let mut lessons: Vec<Lesson> = metadata["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|package| {
                let manifest = PathBuf::from(package["manifest_path"].as_str()?);
                let dir = manifest.parent()?.to_path_buf();
                // `lessons/course` is the lessons' helper crate, not a lesson.
                if dir.parent()? != lessons_dir || !package["name"].as_str()?.starts_with("lesson-")
                {
                    return None;
                }
                Some(Lesson {
                    name: dir.file_name()?.to_str()?.to_string(),
                    package: package["name"].as_str()?.to_string(),
                    title: package["description"].as_str().unwrap_or("").to_string(),
                    python: package["metadata"]["course"]["python"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    teaches: package["metadata"]["course"]["teaches"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    dir,
                })
            })
            .collect();
        lessons.sort_by(|a, b| a.name.cmp(&b.name));
        Workspace {
            target_dir: metadata["target_directory"]
                .as_str()
                .map_or_else(|| root().join("target"), PathBuf::from),
            lessons,
        }
    }
}

/// The lessons, in order (their folders sort by number).
///
/// # Errors
/// As [`metadata`].
pub fn lessons() -> Result<Vec<Lesson>, String> {
    Workspace::get().map(|w| w.lessons.clone())
}

/// The target directory cargo uses (for saving raw outputs).
pub fn target_dir() -> PathBuf {
    Workspace::get().map_or_else(|_| root().join("target"), |w| w.target_dir.clone())
}

/// `(binary name, executable path)` pairs, as cargo reported them.
pub type Binaries = Vec<(String, PathBuf)>;

/// Builds the lessons' binaries and returns (binary name, executable) pairs,
/// read from cargo's own JSON messages. Compiler output goes to our stderr.
///
/// # Errors
/// As [`build_packages`].
pub fn build(lessons: &[Lesson], release: bool) -> Result<Binaries, String> {
    let packages: Vec<&str> = lessons.iter().map(|l| l.package.as_str()).collect();
    build_packages(&packages, release)
}

/// Builds the binaries of `packages` (their bin targets are named like the
/// packages) and returns (binary name, executable) pairs.
///
/// # Errors
/// A message if cargo fails (its own output explains why) or a package
/// has no binary.
pub fn build_packages(packages: &[&str], release: bool) -> Result<Binaries, String> {
    let mut args = vec!["--bins"];
    if release {
        args.push("--release");
    }
    for package in packages {
        args.extend(["--package", package]);
    }
    eprintln!("$ cargo build {}", args.join(" "));
    let binaries = cargo_build(&args)?.ok_or("cargo build failed (see above)")?;
    for package in packages {
        if !binaries.iter().any(|(name, _)| name == package) {
            return Err(format!("cargo built no binary named {package}"));
        }
    }
    Ok(binaries)
}

/// Runs `cargo build` with `args` and returns the executables it reports
/// in its JSON messages, `(target name, path)`; `Ok(None)` if the build
/// failed. Compiler output goes to our stderr, rendered as cargo renders it.
/// The one place that builds and reads cargo's messages, for lessons,
/// exercises and the bench alike.
///
/// # Errors
/// A message if cargo cannot be run.
pub fn cargo_build<S: AsRef<OsStr>>(args: &[S]) -> Result<Option<Binaries>, String> {
    build_with(args, None)
}

/// Like [`cargo_build`], for a package of another workspace whose root is
/// `workspace`: the compiler's messages name files relative to that root,
/// so they are printed here with paths a terminal or an editor opens from
/// where the command was run (the current directory).
///
/// # Errors
/// As [`cargo_build`].
pub fn cargo_build_in<S: AsRef<OsStr>>(
    args: &[S],
    workspace: &Path,
) -> Result<Option<Binaries>, String> {
    build_with(args, Some(workspace))
}

fn build_with<S: AsRef<OsStr>>(
    args: &[S],
    workspace: Option<&Path>,
) -> Result<Option<Binaries>, String> {
    let format = match workspace {
        None => "--message-format=json-render-diagnostics",
        Some(_) => "--message-format=json",
    };
    let output = cargo()
        .args(["build", format])
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run cargo build: {e}"))?;
    let mut binaries = Vec::new();
    for line in output.stdout.split(|&b| b == b'\n') {
        let Ok(message) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        if message["reason"] == "compiler-message"
            && let (Some(workspace), Some(rendered)) =
                (workspace, message["message"]["rendered"].as_str())
        {
            eprint!("{}", paths_from_here(rendered, workspace));
        }
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        if let Some(executable) = message["executable"].as_str() {
            let name = message["target"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            binaries.push((name, PathBuf::from(executable)));
        }
    }
    if !output.status.success() {
        return Ok(None);
    }
    Ok(Some(binaries))
}

/// `rendered` (a compiler message) with each `--> file:line:col` that is
/// relative to `workspace` named from the current directory instead.
pub fn paths_from_here(rendered: &str, workspace: &Path) -> String {
    let here = std::env::current_dir().unwrap_or_else(|_| root());
    let mut out = String::new();
    for line in rendered.split_inclusive('\n') {
        let arrow = line.find("--> ");
        match arrow {
            Some(at) if !line[at + 4..].starts_with('/') => {
                let (before, relative) = line.split_at(at + 4);
                let full = workspace.join(relative.trim_end());
                let shown = full
                    .strip_prefix(&here)
                    .map_or_else(|_| full.display().to_string(), |p| p.display().to_string());
                out.push_str(before);
                out.push_str(&shown);
                if line.ends_with('\n') {
                    out.push('\n');
                }
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// Picks the lessons named by `queries` (all of them when there is none).
///
/// # Errors
/// A message naming a query that matches no lesson, or more than one.
pub fn select(all: &[Lesson], queries: &[String]) -> Result<Vec<Lesson>, String> {
    if queries.is_empty() {
        return Ok(all.to_vec());
    }
    queries
        .iter()
        .map(|q| {
            all.iter().find(|l| l.is_named(q)).cloned().ok_or_else(|| {
                let known: Vec<&str> = all.iter().map(|l| l.name.as_str()).collect();
                format!(
                    "no lesson named `{q}`; the lessons are: {}",
                    known.join(", ")
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod path_tests {
    use super::*;

    #[test]
    fn compiler_paths_are_named_from_here() {
        let here = std::env::current_dir().unwrap();
        let workspace = here.join("exercises");
        let rendered = "error[E0599]: no method\n  --> 05-pipe/2-ping-pong/main.rs:10:5\n   |\n";
        assert_eq!(
            paths_from_here(rendered, &workspace),
            "error[E0599]: no method\n  --> exercises/05-pipe/2-ping-pong/main.rs:10:5\n   |\n"
        );
        let absolute = "  --> /rustc/abc/library/core/src/lib.rs:1:1\n";
        assert_eq!(paths_from_here(absolute, &workspace), absolute);
    }
}
