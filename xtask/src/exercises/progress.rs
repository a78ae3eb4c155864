//! What the learner has solved, kept in `target/exercises/progress.txt`:
//! never in the tracked tree, so a fresh clone starts with nothing solved
//! (and `cargo clean` forgets it). One line per exercise checked:
//! `ID solved|failed HASH`, where HASH is that of the file as it was
//! checked, so an exercise edited after it passed is checked again. The
//! hash leaves out whitespace outside string literals: `cargo fmt` on a
//! solved exercise leaves it solved.

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

    /// Records a check of `exercise`, whose file hashed to `checked` when
    /// it was built (a save during the check is not what passed), and
    /// writes the file.
    ///
    /// # Errors
    /// A message if the file cannot be written.
    pub fn record(
        &mut self,
        exercise: &Exercise,
        solved: bool,
        checked: u64,
    ) -> Result<(), String> {
        self.entries.insert(exercise.id.clone(), (solved, checked));
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

/// The hash of the learner's file as it is now.
pub fn hash_of_source(exercise: &Exercise) -> u64 {
    meaning_hash(&std::fs::read_to_string(exercise.source()).unwrap_or_default())
}

/// FNV-1a of `text` without its whitespace outside string and char
/// literals: a reformatted file hashes the same, an edited one does not
/// (not a security hash; nothing here is adversarial).
pub fn meaning_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if c.is_whitespace() {
            continue;
        }
        let mut buf = [0u8; 4];
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::meaning_hash;

    #[test]
    fn formatting_keeps_the_hash_and_an_edit_changes_it() {
        let before = "fn main() { println!(\"a b\"); }\n";
        let formatted = "fn main() {\n    println!(\"a b\");\n}\n";
        assert_eq!(meaning_hash(before), meaning_hash(formatted));
        assert_ne!(
            meaning_hash(before),
            meaning_hash("fn main() { println!(\"ab\"); }")
        );
        assert_ne!(
            meaning_hash(before),
            meaning_hash("fn main() { print!(\"a b\"); }")
        );
    }
}
