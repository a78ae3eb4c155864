//! Matches a run's output against a [`Golden`], and says where and why it
//! does not.

use std::collections::HashMap;
use std::fmt;

use super::{Block, Golden, Hole, Item, Pattern, Segment};

/// Named holes bound so far: name -> (value, output line where it was bound).
pub type Captures = HashMap<String, (String, usize)>;

impl Pattern {
    /// Matches `line` against this pattern. Named holes already in `captures`
    /// must equal their bound value; new ones are returned.
    pub fn matches(&self, line: &str, captures: &Captures) -> Option<Vec<(String, String)>> {
        let mut bound = Vec::new();
        let mut steps = LINE_STEP_LIMIT;
        match_segments(&self.segments, line, captures, &mut bound, &mut steps).then_some(bound)
    }

    /// Matches ignoring what named holes were bound to.
    pub fn matches_shape(&self, line: &str) -> bool {
        self.matches(line, &Captures::new()).is_some()
    }

    /// The first named hole whose bound value makes this line fail, if the
    /// line matches the pattern's shape.
    fn capture_conflict<'c>(
        &self,
        line: &str,
        captures: &'c Captures,
    ) -> Option<(&str, &'c (String, usize))> {
        if !self.matches_shape(line) {
            return None;
        }
        self.segments.iter().find_map(|segment| match segment {
            Segment::Hole(_, Some(name)) => {
                let bound = captures.get(name)?;
                let mut without = captures.clone();
                without.remove(name);
                self.matches(line, &without)
                    .is_some_and(|new| new.iter().any(|(n, v)| n == name && *v != bound.0))
                    .then_some((name.as_str(), bound))
            }
            _ => None,
        })
    }
}

/// How many tries one line may take: many `[..]` holes in one pattern try
/// exponentially many splits of a line that does not match. Past the limit, the line does not match.
const LINE_STEP_LIMIT: usize = 100_000;

fn match_segments(
    segments: &[Segment],
    line: &str,
    captures: &Captures,
    bound: &mut Vec<(String, String)>,
    steps: &mut usize,
) -> bool {
    if *steps == 0 {
        return false;
    }
    *steps -= 1;
    let Some((first, rest)) = segments.split_first() else {
        return line.is_empty();
    };
    match first {
        Segment::Literal(text) => line
            .strip_prefix(text.as_str())
            .is_some_and(|after| match_segments(rest, after, captures, bound, steps)),
        Segment::Hole(hole, name) => {
            for end in hole_ends(*hole, line) {
                let value = &line[..end];
                if let Some(name) = name {
                    let earlier = captures.get(name).map(|(v, _)| v.as_str()).or_else(|| {
                        bound
                            .iter()
                            .find(|(n, _)| n == name)
                            .map(|(_, v)| v.as_str())
                    });
                    if earlier.is_some_and(|v| v != value) {
                        continue;
                    }
                    let fresh = earlier.is_none();
                    if fresh {
                        bound.push((name.clone(), value.to_string()));
                    }
                    if match_segments(rest, &line[end..], captures, bound, steps) {
                        return true;
                    }
                    if fresh {
                        bound.pop();
                    }
                } else if match_segments(rest, &line[end..], captures, bound, steps) {
                    return true;
                }
            }
            false
        }
    }
}

/// The byte offsets at which a hole starting at `line[0]` may end, in the
/// order to try them: shortest first for `[..]`, longest first for numbers.
fn hole_ends(hole: Hole, line: &str) -> Vec<usize> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    match hole {
        Hole::Any => line
            .char_indices()
            .map(|(i, _)| i)
            .chain([line.len()])
            .collect(),
        Hole::Pid => (1..=digits(line)).rev().collect(),
        Hole::Int => {
            let sign = usize::from(line.starts_with('-'));
            (1..=digits(&line[sign..]))
                .rev()
                .map(|n| sign + n)
                .collect()
        }
        Hole::Addr => match line.strip_prefix("0x") {
            Some(hex) => {
                let n = hex.bytes().take_while(u8::is_ascii_hexdigit).count();
                (1..=n).rev().map(|n| 2 + n).collect()
            }
            None => Vec::new(),
        },
        Hole::Elapsed => elapsed_end(line).into_iter().collect(),
    }
}

/// Where a Rust `Duration` printed with `{:?}` or `{:.N?}` ends, if `line`
/// starts with one: digits, an optional fraction, then `ns`, `µs`, `ms` or `s`.
pub(super) fn elapsed_end(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut end = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if end == 0 {
        return None;
    }
    if bytes.get(end) == Some(&b'.') {
        let fraction = bytes[end + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if fraction == 0 {
            return None;
        }
        end += 1 + fraction;
    }
    let unit = ["ns", "µs", "ms", "s"]
        .iter()
        .find(|u| line[end..].starts_with(*u))?;
    Some(end + unit.len())
}

/// Why an output did not match its golden.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// One sentence saying why.
    pub reason: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

fn mismatch(reason: String) -> Mismatch {
    Mismatch { reason }
}

/// Checks `output` (a lesson's stdout or stderr) against `golden`.
///
/// # Errors
/// A [`Mismatch`] that says which output line fails which golden line, and
/// why.
pub fn check(golden: &Golden, output: &str) -> Result<(), Mismatch> {
    let lines: Vec<&str> = output.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.starts_with("#@")) {
        return Err(mismatch(format!(
            "output line {}: `{}` starts with `#@`, which golden files reserve for directives",
            i + 1,
            lines[i]
        )));
    }
    let mut captures = Captures::new();
    let mut at = 0;
    for item in &golden.items {
        match item {
            Item::Line(pattern) => {
                let Some(line) = lines.get(at) else {
                    return Err(missing(at, pattern));
                };
                match pattern.matches(line, &captures) {
                    Some(bound) => bind(&mut captures, bound, at),
                    None => return Err(line_mismatch(at, line, pattern, &captures)),
                }
                at += 1;
            }
            Item::Block(block) => {
                let end = at + block.len();
                if end > lines.len() {
                    return Err(mismatch(format!(
                        "output ended at line {}, inside the any-order block opened at golden line {} ({} lines)",
                        lines.len(),
                        block.opened_at,
                        block.len()
                    )));
                }
                captures = match_block(block, &lines[at..end], at, &captures)?;
                at = end;
            }
        }
    }
    if let Some(extra) = lines.get(at) {
        return Err(mismatch(format!(
            "output line {}: `{extra}` is extra: the golden file ends before it",
            at + 1
        )));
    }
    Ok(())
}

fn bind(captures: &mut Captures, bound: Vec<(String, String)>, at: usize) {
    for (name, value) in bound {
        captures.entry(name).or_insert((value, at + 1));
    }
}

fn missing(at: usize, pattern: &Pattern) -> Mismatch {
    mismatch(format!(
        "output ended after {at} lines, but golden line {} expects `{}`",
        pattern.line, pattern.text
    ))
}

fn line_mismatch(at: usize, line: &str, pattern: &Pattern, captures: &Captures) -> Mismatch {
    if let Some((name, (value, bound_at))) = pattern.capture_conflict(line, captures) {
        return mismatch(format!(
            "output line {}: `{line}` has another value for [{name}] than {value}, bound at output line {bound_at} (golden line {})",
            at + 1,
            pattern.line
        ));
    }
    mismatch(format!(
        "output line {}: `{line}` does not match golden line {}: `{}`",
        at + 1,
        pattern.line,
        pattern.text
    ))
}

/// The most search steps one block may take before the golden is called too
/// ambiguous: far above what a block of a few dozen distinct lines needs.
const BLOCK_STEP_LIMIT: usize = 200_000;

struct BlockSearch<'a> {
    block: &'a Block,
    lines: &'a [&'a str],
    first_line: usize,
    free_used: Vec<bool>,
    chain_next: Vec<usize>,
    steps: usize,
}

impl BlockSearch<'_> {
    /// Pairs `lines[j..]` with the patterns left, depth first. Returns the
    /// captures of the first complete pairing.
    fn search(&mut self, j: usize, captures: &Captures) -> Option<Captures> {
        if j == self.lines.len() {
            return Some(captures.clone());
        }
        self.steps += 1;
        if self.steps > BLOCK_STEP_LIMIT {
            return None;
        }
        let line = self.lines[j];
        for f in 0..self.block.free.len() {
            if self.free_used[f] {
                continue;
            }
            if let Some(bound) = self.block.free[f].matches(line, captures) {
                let mut next = captures.clone();
                bind(&mut next, bound, self.first_line + j);
                self.free_used[f] = true;
                if let Some(done) = self.search(j + 1, &next) {
                    return Some(done);
                }
                self.free_used[f] = false;
            }
        }
        for c in 0..self.block.chains.len() {
            let Some(pattern) = self.block.chains[c].get(self.chain_next[c]) else {
                continue;
            };
            if let Some(bound) = pattern.matches(line, captures) {
                let mut next = captures.clone();
                bind(&mut next, bound, self.first_line + j);
                self.chain_next[c] += 1;
                if let Some(done) = self.search(j + 1, &next) {
                    return Some(done);
                }
                self.chain_next[c] -= 1;
            }
        }
        None
    }
}

pub(super) fn match_block(
    block: &Block,
    lines: &[&str],
    first_line: usize,
    captures: &Captures,
) -> Result<Captures, Mismatch> {
    let mut search = BlockSearch {
        block,
        lines,
        first_line,
        free_used: vec![false; block.free.len()],
        chain_next: vec![0; block.chains.len()],
        steps: 0,
    };
    if let Some(done) = search.search(0, captures) {
        return Ok(done);
    }
    if search.steps > BLOCK_STEP_LIMIT {
        return Err(mismatch(format!(
            "the any-order block opened at golden line {} is too ambiguous to pair (over {BLOCK_STEP_LIMIT} tries): make its lines more distinct",
            block.opened_at
        )));
    }
    Err(mismatch(explain_block_failure(
        block, lines, first_line, captures,
    )))
}

/// Finds the clearest reason a block failed: a line that fits no pattern, a
/// pattern that fits no line, an in-order part out of order, or a named hole.
fn explain_block_failure(
    block: &Block,
    lines: &[&str],
    first_line: usize,
    captures: &Captures,
) -> String {
    let opened = block.opened_at;
    for (j, line) in lines.iter().enumerate() {
        if !block.patterns().any(|p| p.matches_shape(line)) {
            return format!(
                "output line {}: `{line}` matches no line of the any-order block opened at golden line {opened}",
                first_line + j + 1
            );
        }
    }
    for pattern in block.patterns() {
        let fits = lines.iter().filter(|l| pattern.matches_shape(l)).count();
        let wanted = block.patterns().filter(|p| p.text == pattern.text).count();
        if fits < wanted {
            return format!(
                "golden line {}: `{}` is matched by {fits} output line(s) of the block opened at golden line {opened}, but the block needs {wanted}: a line is missing",
                pattern.line, pattern.text
            );
        }
    }
    for chain in &block.chains {
        // The output line each chain pattern would take: the first unclaimed one.
        let mut last: Option<usize> = None;
        let mut claimed = vec![false; lines.len()];
        for pattern in chain {
            let Some(j) =
                (0..lines.len()).find(|&j| !claimed[j] && pattern.matches_shape(lines[j]))
            else {
                break;
            };
            claimed[j] = true;
            if let Some(prev_j) = last
                && j < prev_j
            {
                return format!(
                    "output line {}: `{}` came before `{}` in the in-order part of the block opened at golden line {opened}",
                    first_line + j + 1,
                    lines[j],
                    lines[prev_j],
                );
            }
            last = Some(j);
        }
    }
    for (j, line) in lines.iter().enumerate() {
        for pattern in block.patterns() {
            if let Some((name, (value, bound_at))) = pattern.capture_conflict(line, captures) {
                return format!(
                    "output line {}: `{line}` has another value for [{name}] than {value}, bound at output line {bound_at}",
                    first_line + j + 1
                );
            }
        }
    }
    format!(
        "output lines {}-{} cannot be paired one-to-one with the any-order block opened at golden line {opened}: a line is duplicated, missing, or out of its in-order part",
        first_line + 1,
        first_line + lines.len()
    )
}
