//! What the learner has solved, kept in `target/exercises/progress.txt`:
//! never in the tracked tree, so a fresh clone starts with nothing solved
//! (and `cargo clean` forgets it). One line per exercise checked:
//! `ID solved|failed HASH`, where HASH is that of the file as it was
//! checked, so an exercise edited after it passed is checked again.

use std::collections::BTreeMap;
use std::path::PathBuf;

use harness::workspace;

use super::Exercise;

/// Where an exercise stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Passed `check`, and the file is unchanged since.
    Solved,
    /// Passed `check` once, but the file changed since.
    ChangedSinceSolved,
    /// Checked, and it failed.
    NotYet,
    /// Never checked.
    NotTried,
}

impl Status {
    /// How `progress` shows it.
    pub fn label(self) -> &'static str {
        match self {
            Status::Solved => "solved",
            Status::ChangedSinceSolved => "edited since it passed",
            Status::NotYet => "not solved yet",
            Status::NotTried => "not tried",
        }
    }
}

/// The progress file, read into memory.
pub struct Progress {
    path: PathBuf,
    entries: BTreeMap<String, (bool, u64)>,
}

impl Progress {
    /// Reads the progress file (none yet: nothing solved).
    pub fn load() -> Progress {
        let path = workspace::target_dir()
            .join("exercises")
            .join("progress.txt");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let entries = text
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let id = fields.next()?.to_string();
                let solved = fields.next()? == "solved";
                let hash = u64::from_str_radix(fields.next()?, 16).ok()?;
                Some((id, (solved, hash)))
            })
            .collect();
        Progress { path, entries }
    }

    /// Where `exercise` stands.
    pub fn status(&self, exercise: &Exercise) -> Status {
        match self.entries.get(&exercise.id) {
            None => Status::NotTried,
            Some((false, _)) => Status::NotYet,
            Some((true, hash)) if *hash == hash_of_source(exercise) => Status::Solved,
            Some((true, _)) => Status::ChangedSinceSolved,
        }
    }

    /// Records a check of `exercise` and writes the file.
    ///
    /// # Errors
    /// A message if the file cannot be written.
    pub fn record(&mut self, exercise: &Exercise, solved: bool) -> Result<(), String> {
        self.entries
            .insert(exercise.id.clone(), (solved, hash_of_source(exercise)));
        let text: String = self
            .entries
            .iter()
            .map(|(id, (solved, hash))| {
                let status = if *solved { "solved" } else { "failed" };
                format!("{id} {status} {hash:016x}\n")
            })
            .collect();
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(&self.path, text)
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }

    /// The first exercise, in course order, that is not solved.
    pub fn current<'a>(&self, all: &'a [Exercise]) -> Option<&'a Exercise> {
        all.iter().find(|e| self.status(e) != Status::Solved)
    }
}

/// FNV-1a of the learner's file: enough to notice an edit (not a security
/// hash; nothing here is adversarial).
fn hash_of_source(exercise: &Exercise) -> u64 {
    let bytes = std::fs::read(exercise.source()).unwrap_or_default();
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
