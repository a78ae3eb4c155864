//! Reads a golden file into a [`Golden`].

use std::fmt;
use std::time::Duration;

use super::{Block, Golden, Hole, Item, Pattern, Segment};

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
///
/// # Errors
/// A [`ParseError`] with the golden line and what is wrong with it.
pub fn parse(text: &str) -> Result<Golden, ParseError> {
    let mut golden = Golden {
        exit: 0,
        timeout: Duration::from_secs(30),
        args: Vec::new(),
        needs: None,
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
                    "needs" if !value.is_empty() && !value.contains(['/', ' ']) => {
                        golden.needs = Some(value.to_string())
                    }
                    "needs" => {
                        return Err(parse_error(
                            number,
                            format!("`needs` takes one program name, not `{value}`"),
                        ));
                    }
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
