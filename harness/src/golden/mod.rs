//! The golden-file format, specified in `docs/golden-format.md` at the
//! root of this repository: one pattern per output line, strict in order,
//! with holes where the operating system decides (pids, durations) and
//! any-order blocks where it decides which of two processes prints first.
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
//!
//! Rooms: the types here; `parse.rs` reads a golden file, `check.rs` matches
//! output against it and explains a failure, `render.rs` writes goldens back
//! (for `bless` and for diffs), `bless.rs` decides what `bless` writes.

pub mod bless;
mod check;
mod parse;
mod render;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use self::check::{Captures, Mismatch, check};
pub use self::parse::{ParseError, parse};
pub use self::render::{
    autohole, header, normalise, render_block, render_block_body, render_for_diff,
    render_without_comments,
};

/// A parsed golden file.
#[derive(Debug, Clone)]
pub struct Golden {
    /// The exit status the lesson must end with (`#@ exit: N`, default 0).
    pub exit: i32,
    /// How long the lesson may run (`#@ timeout: 20s`, default 30 s).
    pub timeout: Duration,
    /// Extra command-line arguments (`#@ args: ...`).
    pub args: Vec<String>,
    /// A program this golden's form of the output needs on `PATH` (`#@
    /// needs: redis-server`): without it, the lesson prints another form,
    /// checked by `golden.without-PROGRAM.stdout` instead.
    pub needs: Option<String>,
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
