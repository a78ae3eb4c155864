//! The golden-file format (`../shared/design/golden-format.md` in the course's
//! design notes): one pattern per output line, strict in order, with holes
//! where the operating system decides (pids, durations) and any-order blocks
//! where it decides which of two processes prints first.
//!
//! ```text
//! #@ exit: 0                 header lines, at the top only
//! #@# a comment              ignored
//! pid=[PID:child]            a named hole: every use must be the same value
//! #@ any-order               the next k lines, one-to-one, in any order...
//! hi
//! #@ in-order                ...but these keep their relative order
//! step 1
//! step 2
//! #@ end
//! ```

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

/// A parsed golden file.
#[derive(Debug, Clone)]
pub struct Golden {
    /// The exit status the lesson must end with (`#@ exit: N`, default 0).
    pub exit: i32,
    /// How long the lesson may run (`#@ timeout: 20s`, default 30 s).
    pub timeout: Duration,
    /// Extra command-line arguments (`#@ args: ...`).
    pub args: Vec<String>,
    /// The header lines as written, kept by bless.
    pub header: Vec<String>,
    /// The patterns, in order.
    pub items: Vec<Item>,
    /// `#@#` comments after the last item, kept by bless.
    pub trailing_comments: Vec<String>,
}

/// One top-level piece of a golden file.
#[derive(Debug, Clone)]
pub enum Item {
    /// A pattern that matches exactly one output line.
    Line(Pattern),
    /// An any-order block.
    Block(Block),
}

/// `#@ any-order` ... `#@ end`.
#[derive(Debug, Clone)]
pub struct Block {
    /// The golden line number (1-based) of `#@ any-order`.
    pub opened_at: usize,
    /// Patterns that may match their lines in any order.
    pub free: Vec<Pattern>,
    /// Each `#@ in-order` part: its patterns keep their relative order.
    pub chains: Vec<Vec<Pattern>>,
    /// `#@#` comments written before the block, kept by bless.
    pub comments: Vec<String>,
}

impl Block {
    /// How many output lines the block matches.
    pub fn len(&self) -> usize {
        self.free.len() + self.chains.iter().map(Vec::len).sum::<usize>()
    }

    /// True for a block with no pattern (the parser rejects those).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn patterns(&self) -> impl Iterator<Item = &Pattern> {
        self.free.iter().chain(self.chains.iter().flatten())
    }
}

/// One pattern line.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The golden line number (1-based).
    pub line: usize,
    /// The line as written.
    pub text: String,
    /// `#@#` comments written just before it, kept by bless.
    pub comments: Vec<String>,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Hole(Hole, Option<String>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Hole {
    Any,
    Pid,
    Int,
    Addr,
    Elapsed,
}

/// Why a golden file could not be parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// The golden line number (1-based).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "golden line {}: {}", self.line, self.message)
    }
}

fn parse_error(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

/// Parses a golden file's text.
pub fn parse(text: &str) -> Result<Golden, ParseError> {
    let mut golden = Golden {
        exit: 0,
        timeout: Duration::from_secs(30),
        args: Vec::new(),
        header: Vec::new(),
        items: Vec::new(),
        trailing_comments: Vec::new(),
    };
    let mut in_header = true;
    let mut block: Option<Block> = None;
    let mut comments: Vec<String> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        if raw.starts_with("#@#") {
            comments.push(raw.to_string());
            continue;
        }
        if let Some(directive) = raw.strip_prefix("#@") {
            let directive = directive.trim();
            if let Some((key, value)) = directive.split_once(':') {
                if !in_header {
                    return Err(parse_error(
                        number,
                        format!("header `{raw}` after the first pattern: headers go at the top"),
                    ));
                }
                let value = value.trim();
                match key.trim() {
                    "exit" => {
                        golden.exit = value.parse().map_err(|_| {
                            parse_error(number, format!("exit status `{value}` is not a number"))
                        })?
                    }
                    "timeout" => {
                        golden.timeout = parse_timeout(value).ok_or_else(|| {
                            parse_error(number, format!("timeout `{value}` is not like `20s`"))
                        })?
                    }
                    "args" => golden.args = value.split_whitespace().map(String::from).collect(),
                    other => return Err(parse_error(number, format!("unknown header `{other}`"))),
                }
                golden.header.append(&mut comments);
                golden.header.push(raw.to_string());
                continue;
            }
            in_header = false;
            match directive {
                "any-order" => {
                    if let Some(open) = &block {
                        return Err(parse_error(
                            number,
                            format!(
                                "`#@ any-order` inside the block opened at line {}: blocks do not nest",
                                open.opened_at
                            ),
                        ));
                    }
                    block = Some(Block {
                        opened_at: number,
                        free: Vec::new(),
                        chains: Vec::new(),
                        comments: std::mem::take(&mut comments),
                    });
                }
                "in-order" => match &mut block {
                    Some(open) => open.chains.push(Vec::new()),
                    None => {
                        return Err(parse_error(
                            number,
                            "`#@ in-order` outside an any-order block",
                        ));
                    }
                },
                "end" => {
                    let Some(done) = block.take() else {
                        return Err(parse_error(
                            number,
                            "`#@ end` without an open `#@ any-order`",
                        ));
                    };
                    if done.chains.iter().any(Vec::is_empty) {
                        return Err(parse_error(number, "an `#@ in-order` part with no lines"));
                    }
                    if done.len() < 2 {
                        return Err(parse_error(
                            done.opened_at,
                            "an any-order block needs at least two lines",
                        ));
                    }
                    golden.items.push(Item::Block(done));
                }
                other => {
                    return Err(parse_error(
                        number,
                        format!("unknown directive `#@ {other}`"),
                    ));
                }
            }
            continue;
        }
        in_header = false;
        let pattern = Pattern {
            line: number,
            text: raw.to_string(),
            comments: std::mem::take(&mut comments),
            segments: parse_segments(raw).map_err(|message| parse_error(number, message))?,
        };
        match &mut block {
            Some(open) => {
                if pattern.segments == [Segment::Hole(Hole::Any, None)] {
                    return Err(parse_error(
                        number,
                        "a block line that is only `[..]` pairs with any line, so the block checks nothing: give it some literal text",
                    ));
                }
                match open.chains.last_mut() {
                    Some(chain) => chain.push(pattern),
                    None => open.free.push(pattern),
                }
            }
            None => golden.items.push(Item::Line(pattern)),
        }
    }
    if let Some(open) = block {
        return Err(parse_error(
            open.opened_at,
            "`#@ any-order` is never closed with `#@ end`",
        ));
    }
    golden.trailing_comments = comments;
    Ok(golden)
}

fn parse_timeout(value: &str) -> Option<Duration> {
    let seconds: u64 = value.strip_suffix('s')?.trim().parse().ok()?;
    (seconds > 0).then(|| Duration::from_secs(seconds))
}

fn parse_segments(text: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let hole = rest[open + 1..].find(']').and_then(|close| {
            let inside = &rest[open + 1..open + 1 + close];
            parse_hole(inside).map(|hole| (hole, open + 1 + close + 1))
        });
        match hole {
            Some((hole, after)) => {
                literal.push_str(&rest[..open]);
                if literal.is_empty() && matches!(segments.last(), Some(Segment::Hole(..))) {
                    return Err(format!(
                        "two holes touch at `{}`: put literal text between them, or the split between them is ambiguous",
                        &rest[..after]
                    ));
                }
                if !literal.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Hole(hole.0, hole.1));
                rest = &rest[after..];
            }
            None => {
                literal.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    Ok(segments)
}

fn parse_hole(inside: &str) -> Option<(Hole, Option<String>)> {
    let (kind, name) = match inside.split_once(':') {
        Some((kind, name)) => {
            let valid =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return None;
            }
            (kind, Some(name.to_string()))
        }
        None => (inside, None),
    };
    let hole = match kind {
        ".." if name.is_none() => Hole::Any,
        "ELAPSED" if name.is_none() => Hole::Elapsed,
        "PID" => Hole::Pid,
        "INT" => Hole::Int,
        "ADDR" => Hole::Addr,
        _ => return None,
    };
    Some((hole, name))
}

/// Named holes bound so far: name -> (value, output line where it was bound).
pub type Captures = HashMap<String, (String, usize)>;

impl Pattern {
    /// Matches `line` against this pattern. Named holes already in `captures`
    /// must equal their bound value; new ones are returned.
    pub fn matches(&self, line: &str, captures: &Captures) -> Option<Vec<(String, String)>> {
        let mut bound = Vec::new();
        match_segments(&self.segments, line, captures, &mut bound).then_some(bound)
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

fn match_segments(
    segments: &[Segment],
    line: &str,
    captures: &Captures,
    bound: &mut Vec<(String, String)>,
) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        return line.is_empty();
    };
    match first {
        Segment::Literal(text) => line
            .strip_prefix(text.as_str())
            .is_some_and(|after| match_segments(rest, after, captures, bound)),
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
                    if match_segments(rest, &line[end..], captures, bound) {
                        return true;
                    }
                    if fresh {
                        bound.pop();
                    }
                } else if match_segments(rest, &line[end..], captures, bound) {
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
fn elapsed_end(line: &str) -> Option<usize> {
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

fn match_block(
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

/// Rewrites one output line with holes where it holds a pid, a duration or
/// an address: what `bless` writes for a line it has no pattern for.
pub fn autohole(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        let at_word_start = out
            .chars()
            .last()
            .is_none_or(|p| !p.is_ascii_alphanumeric() && p != '.');
        if let Some(after) = rest.strip_prefix("pid=") {
            let n = after.bytes().take_while(u8::is_ascii_digit).count();
            if n > 0 {
                out.push_str("pid=[PID]");
                rest = &after[n..];
                continue;
            }
        }
        if at_word_start {
            if let Some(hex) = rest.strip_prefix("0x") {
                let n = hex.bytes().take_while(u8::is_ascii_hexdigit).count();
                if n > 0 {
                    out.push_str("[ADDR]");
                    rest = &hex[n..];
                    continue;
                }
            }
            if let Some(end) = elapsed_end(rest)
                && !rest[end..].starts_with(|c: char| c.is_alphanumeric())
            {
                out.push_str("[ELAPSED]");
                rest = &rest[end..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Output lines rewritten the way the golden file would say them, for the
/// diff printed on failure: lines that match their pattern are shown as the
/// pattern, others with their pids and durations turned into holes.
pub fn normalise(golden: &Golden, output: &str) -> Vec<String> {
    let lines: Vec<&str> = output.lines().collect();
    let mut out: Vec<String> = golden
        .header
        .iter()
        .filter(|l| !l.starts_with("#@#"))
        .cloned()
        .collect();
    let mut at = 0;
    for item in &golden.items {
        match item {
            Item::Line(pattern) => {
                if let Some(line) = lines.get(at) {
                    out.push(if pattern.matches_shape(line) {
                        pattern.text.clone()
                    } else {
                        autohole(line)
                    });
                    at += 1;
                }
            }
            Item::Block(block) => {
                let end = (at + block.len()).min(lines.len());
                let segment = &lines[at..end];
                out.push("#@ any-order".into());
                if match_block(block, segment, at, &Captures::new()).is_ok() {
                    out.extend(render_block_body(block, false));
                } else {
                    for line in segment {
                        out.push(
                            block
                                .patterns()
                                .find(|p| p.matches_shape(line))
                                .map_or_else(|| autohole(line), |p| p.text.clone()),
                        );
                    }
                }
                out.push("#@ end".into());
                at = end;
            }
        }
    }
    out.extend(lines[at.min(lines.len())..].iter().map(|l| autohole(l)));
    out
}

/// The golden text of a block's lines (without its `#@ any-order`/`#@ end`).
pub fn render_block_body(block: &Block, with_comments: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut put = |pattern: &Pattern| {
        if with_comments {
            out.extend(pattern.comments.iter().cloned());
        }
        out.push(pattern.text.clone());
    };
    block.free.iter().for_each(&mut put);
    for chain in &block.chains {
        // Pushed through `put`'s buffer so the marker lands in order.
        let marker = Pattern {
            line: 0,
            text: "#@ in-order".into(),
            comments: Vec::new(),
            segments: Vec::new(),
        };
        put(&marker);
        chain.iter().for_each(&mut put);
    }
    out
}

/// The golden text without comments, as `normalise` renders it.
pub fn render_without_comments(golden: &Golden) -> Vec<String> {
    let mut out: Vec<String> = golden
        .header
        .iter()
        .filter(|l| !l.starts_with("#@#"))
        .cloned()
        .collect();
    for item in &golden.items {
        match item {
            Item::Line(p) => out.push(p.text.clone()),
            Item::Block(block) => {
                out.push("#@ any-order".into());
                out.extend(render_block_body(block, false));
                out.push("#@ end".into());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
