//! Writes goldens back as text: holes for new lines (`bless`), and the
//! golden without comments, to diff against a failing output.

use super::check::{elapsed_end, match_block};
use super::{Block, Captures, Golden, Item, Pattern};

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
    let mut out = header(golden, |l| !l.starts_with("#@#"));
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
                if match_block(block, segment, at, &Captures::new()).is_ok() {
                    out.extend(render_block(block, false));
                } else {
                    out.push("#@ any-order".into());
                    for line in segment {
                        out.push(
                            block
                                .patterns()
                                .find(|p| p.matches_shape(line))
                                .map_or_else(|| autohole(line), |p| p.text.clone()),
                        );
                    }
                    out.push("#@ end".into());
                }
                at = end;
            }
        }
    }
    out.extend(lines[at.min(lines.len())..].iter().map(|l| autohole(l)));
    out
}

/// The golden's header lines that `keep` keeps.
pub fn header(golden: &Golden, keep: impl Fn(&str) -> bool) -> Vec<String> {
    golden.header.iter().filter(|l| keep(l)).cloned().collect()
}

/// The golden text of a whole block, `#@ any-order` to `#@ end`; with
/// `with_comments`, the comments above it and above each of its lines too.
pub fn render_block(block: &Block, with_comments: bool) -> Vec<String> {
    let mut out = Vec::new();
    if with_comments {
        out.extend(block.comments.iter().cloned());
    }
    out.push("#@ any-order".into());
    out.extend(render_block_body(block, with_comments));
    out.push("#@ end".into());
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
/// The golden's expected lines as a diff shows them beside the output:
/// no comments and no header directives (`#@ timeout: ...`), so that the
/// line numbers are the output's (a block's `#@ any-order`/`#@ end`
/// markers stay, to show where order is free).
pub fn render_for_diff(golden: &Golden) -> Vec<String> {
    let mut out = Vec::new();
    for item in &golden.items {
        match item {
            Item::Line(p) => out.push(p.text.clone()),
            Item::Block(block) => out.extend(render_block(block, false)),
        }
    }
    out
}

/// The golden file without its comments (`#@#`).
pub fn render_without_comments(golden: &Golden) -> Vec<String> {
    let mut out = header(golden, |l| !l.starts_with("#@#"));
    for item in &golden.items {
        match item {
            Item::Line(p) => out.push(p.text.clone()),
            Item::Block(block) => out.extend(render_block(block, false)),
        }
    }
    out
}
