//! The matcher's tests: every allowed interleaving of each block shape
//! passes, every other arrangement fails, and so do dropped, duplicated and
//! extra lines, a changed named hole, and malformed goldens.

use super::*;

fn golden(text: &str) -> Golden {
    parse(text).unwrap_or_else(|e| panic!("golden should parse: {e}\n{text}"))
}

fn passes(golden_text: &str, output: &[&str]) -> bool {
    check(&golden(golden_text), &(output.join("\n") + "\n")).is_ok()
}

fn reason(golden_text: &str, output: &[&str]) -> String {
    check(&golden(golden_text), &(output.join("\n") + "\n"))
        .expect_err("the output should not match")
        .reason
}

/// Every ordering of `items`.
fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            all.push(tail);
        }
    }
    all
}

/// A block shape: free lines, then in-order parts. Returns the golden text
/// (with a line before and after the block) and the block's lines.
fn block_shape(free: &[&str], chains: &[&[&str]]) -> (String, Vec<String>) {
    let mut text = String::from("before\n#@ any-order\n");
    let mut lines = Vec::new();
    for line in free {
        text += &format!("{line}\n");
        lines.push(line.to_string());
    }
    for chain in chains {
        text += "#@ in-order\n";
        for line in *chain {
            text += &format!("{line}\n");
            lines.push(line.to_string());
        }
    }
    text += "#@ end\nafter\n";
    (text, lines)
}

/// True if `order` keeps each chain's lines in their relative order.
fn respects_chains(order: &[String], chains: &[&[&str]]) -> bool {
    chains.iter().all(|chain| {
        let positions: Vec<usize> = chain
            .iter()
            .map(|line| order.iter().position(|l| l == line).unwrap())
            .collect();
        positions.windows(2).all(|w| w[0] < w[1])
    })
}

fn with_frame(block_lines: &[String]) -> Vec<&str> {
    let mut out = vec!["before"];
    out.extend(block_lines.iter().map(String::as_str));
    out.push("after");
    out
}

const SHAPES: &[(&[&str], &[&[&str]])] = &[
    (&["a", "b", "c"], &[]),
    (&[], &[&["1", "2", "3"]]),
    (&["a", "b"], &[&["1", "2"]]),
    (&[], &[&["1", "2"], &["x", "y"]]),
    (&["a"], &[&["1", "2"], &["x", "y"]]),
    (&["a", "b", "c"], &[&["1", "2", "3"]]),
    (
        &["hi pid=[PID]", "hi pid=[PID]"],
        &[&["child pid=[PID]", "child exits"]],
    ),
];

/// Concrete output lines for a shape's patterns.
fn concrete(line: &str, i: usize) -> String {
    line.replace("[PID]", &(100 + i).to_string())
}

/// Output lines for a shape's patterns, each pid hole with its own value.
fn concrete_lines(patterns: &[String]) -> Vec<String> {
    patterns
        .iter()
        .enumerate()
        .map(|(i, l)| concrete(l, i))
        .collect()
}

#[test]
fn every_allowed_interleaving_of_every_block_shape_passes_and_no_other() {
    for (free, chains) in SHAPES {
        let (text, patterns) = block_shape(free, chains);
        let lines = concrete_lines(&patterns);
        let concrete_chains: Vec<Vec<String>> = {
            let mut offset = free.len();
            chains
                .iter()
                .map(|c| {
                    let out = c
                        .iter()
                        .enumerate()
                        .map(|(i, l)| concrete(l, offset + i))
                        .collect();
                    offset += c.len();
                    out
                })
                .collect()
        };
        let chain_refs: Vec<Vec<&str>> = concrete_chains
            .iter()
            .map(|c| c.iter().map(String::as_str).collect())
            .collect();
        let chain_slices: Vec<&[&str]> = chain_refs.iter().map(Vec::as_slice).collect();
        let (mut allowed, mut refused) = (0, 0);
        for order in permutations(&lines) {
            let expected = respects_chains(&order, &chain_slices);
            let got = passes(&text, &with_frame(&order));
            assert_eq!(got, expected, "shape {free:?} {chains:?}, order {order:?}");
            if got { allowed += 1 } else { refused += 1 }
        }
        assert!(allowed > 0, "shape {free:?} {chains:?} allowed nothing");
        if !chains.is_empty() {
            assert!(refused > 0, "shape {free:?} {chains:?} refused nothing");
        }
    }
}

#[test]
fn dropped_duplicated_and_extra_lines_fail_in_every_shape() {
    for (free, chains) in SHAPES {
        let (text, patterns) = block_shape(free, chains);
        let lines = concrete_lines(&patterns);
        assert!(
            passes(&text, &with_frame(&lines)),
            "{free:?} {chains:?} in golden order"
        );
        for i in 0..lines.len() {
            let mut dropped = lines.clone();
            dropped.remove(i);
            assert!(
                !passes(&text, &with_frame(&dropped)),
                "dropped line {i} of {lines:?}"
            );

            let mut duplicated = lines.clone();
            duplicated.insert(i, lines[i].clone());
            assert!(
                !passes(&text, &with_frame(&duplicated)),
                "duplicated line {i} of {lines:?}"
            );

            // The duplicate replaces another line: the count stays right.
            for j in 0..lines.len() {
                let mut replaced = lines.clone();
                replaced[j] = lines[i].clone();
                if lines[j] != lines[i] && concrete_shape_differs(&patterns, i, j) {
                    assert!(
                        !passes(&text, &with_frame(&replaced)),
                        "line {j} replaced by line {i}"
                    );
                }
            }

            let mut extra = lines.clone();
            extra.insert(i, "extra".to_string());
            assert!(
                !passes(&text, &with_frame(&extra)),
                "extra line at {i} of {lines:?}"
            );
        }
        // Lines before and after the block keep their places too.
        let mut moved_out = vec!["before".to_string()];
        moved_out.extend(lines[1..].iter().cloned());
        moved_out.push("after".into());
        moved_out.push(lines[0].clone());
        assert!(!passes(
            &text,
            &moved_out.iter().map(String::as_str).collect::<Vec<_>>()
        ));
    }
}

/// Two pattern lines differ in shape unless both are the same pattern text.
fn concrete_shape_differs(patterns: &[String], i: usize, j: usize) -> bool {
    patterns[i] != patterns[j]
}

#[test]
fn top_level_lines_are_strictly_in_order() {
    let text = "one\ntwo\nthree\n";
    assert!(passes(text, &["one", "two", "three"]));
    for order in permutations(&["one", "two", "three"]) {
        assert_eq!(
            passes(text, &order),
            order == ["one", "two", "three"],
            "{order:?}"
        );
    }
    assert!(reason(text, &["one", "two"]).contains("output ended after 2 lines"));
    assert!(
        reason(text, &["one", "two", "three", "four"]).contains("output line 4: `four` is extra")
    );
    assert!(
        reason(text, &["one", "2", "three"])
            .contains("output line 2: `2` does not match golden line 2")
    );
}

#[test]
fn an_order_violation_names_both_lines_and_the_block() {
    let text = "#@ any-order\n1 done\n#@ in-order\nimap -> 1\nimap -> 4\n#@ end\n";
    assert!(passes(text, &["imap -> 1", "1 done", "imap -> 4"]));
    let why = reason(text, &["imap -> 4", "1 done", "imap -> 1"]);
    assert_eq!(
        why,
        "output line 1: `imap -> 4` came before `imap -> 1` in the in-order part of the block opened at golden line 1"
    );
}

#[test]
fn named_holes_tie_lines_together() {
    let text =
        "fork returned pid=[PID:child]\n#@ any-order\nhi\nhi\nchild: pid=[PID:child]\n#@ end\n";
    assert!(passes(
        text,
        &["fork returned pid=42", "hi", "child: pid=42", "hi"]
    ));
    let why = reason(text, &["fork returned pid=42", "hi", "child: pid=43", "hi"]);
    assert!(why.contains("[child]") && why.contains("42"), "{why}");

    let top = "parent pid=[PID:p]\nchild sees parent pid=[PID:p]\n";
    assert!(passes(top, &["parent pid=7", "child sees parent pid=7"]));
    let why = reason(top, &["parent pid=7", "child sees parent pid=8"]);
    assert_eq!(
        why,
        "output line 2: `child sees parent pid=8` has another value for [p] than 7, bound at output line 1 (golden line 2)"
    );

    // Bound inside a block, used after it.
    let later = "#@ any-order\nA pid=[PID:a]\nB pid=[PID:b]\n#@ end\nA again pid=[PID:a]\n";
    assert!(passes(later, &["B pid=2", "A pid=1", "A again pid=1"]));
    assert!(!passes(later, &["B pid=2", "A pid=1", "A again pid=2"]));
}

#[test]
fn a_block_pairs_by_real_matching_not_first_fit() {
    // `x [INT]` also fits `x 1`; first fit would give `x 1` to it and fail.
    let text = "#@ any-order\nx [INT]\nx 1\n#@ end\n";
    assert!(passes(text, &["x 1", "x 2"]));
    assert!(passes(text, &["x 2", "x 1"]));
    assert!(!passes(text, &["x 2", "x 3"]));
}

#[test]
fn holes_match_what_they_say() {
    let cases: &[(&str, &str, bool)] = &[
        ("took [ELAPSED]", "took 850ns", true),
        ("took [ELAPSED]", "took 1.2µs", true),
        ("took [ELAPSED]", "took 12ms", true),
        ("took [ELAPSED]", "took 1.50s", true),
        ("took [ELAPSED]", "took 3s", true),
        ("took [ELAPSED]", "took 12", false),
        ("took [ELAPSED]", "took ms", false),
        ("took [ELAPSED]", "took 1.s", false),
        ("took [ELAPSED]", "took 12 ms", false),
        ("took [ELAPSED]", "took 12min", false),
        ("took [ELAPSED] each", "took 3.0ms each", true),
        ("pid=[PID]", "pid=123", true),
        ("pid=[PID]", "pid=", false),
        ("pid=[PID]", "pid=-1", false),
        ("n=[INT]", "n=-17", true),
        ("n=[INT]", "n=x", false),
        ("at [ADDR]", "at 0x7ffd1234", true),
        ("at [ADDR]", "at 7ffd", false),
        ("[..] done", "0.3 done", true),
        ("[..] done", " done", true),
        ("[..] done", "done", false),
        ("a [..] b [..] c", "a 1 b 2 b 3 c", true),
        ("list [0, 1, 4, 9]", "list [0, 1, 4, 9]", true),
        ("list [0, 1, 4, 9]", "list [0, 1, 9, 4]", false),
        ("[X] literal", "[X] literal", true),
        ("[INT].[INT]x", "1.56x", true),
        ("[INT].[INT]x", "1x", false),
    ];
    for &(pattern, line, expected) in cases {
        let got = passes(&format!("{pattern}\n"), &[line]);
        assert_eq!(got, expected, "`{pattern}` against `{line}`");
    }
}

#[test]
fn headers_are_read() {
    let g = golden("#@ exit: 2\n#@ timeout: 5s\n#@ args: --bogus x\n#@# why\nline\n");
    assert_eq!(g.exit, 2);
    assert_eq!(g.timeout, Duration::from_secs(5));
    assert_eq!(g.args, ["--bogus", "x"]);
    assert_eq!(g.items.len(), 1);
    let d = golden("line\n");
    assert_eq!((d.exit, d.timeout), (0, Duration::from_secs(30)));
}

#[test]
fn malformed_and_ambiguous_goldens_are_rejected() {
    let cases: &[(&str, &str)] = &[
        ("#@ any-order\na\nb\n", "never closed"),
        ("a\n#@ end\n", "without an open"),
        ("#@ any-order\na\n#@ any-order\nb\n#@ end\n", "do not nest"),
        ("a\n#@ in-order\nb\n", "outside an any-order block"),
        ("#@ any-order\na\n#@ in-order\n#@ end\n", "no lines"),
        ("#@ any-order\na\n#@ end\n", "at least two lines"),
        ("#@ any-order\na\n[..]\n#@ end\n", "checks nothing"),
        ("pid=[PID][INT]\n", "two holes touch"),
        ("[..][ELAPSED]\n", "two holes touch"),
        ("a\n#@ exit: 1\n", "headers go at the top"),
        ("#@ exit: one\n", "not a number"),
        ("#@ timeout: 5 minutes\n", "not like"),
        ("#@ colour: red\n", "unknown header"),
        ("#@ sometimes\n", "unknown directive"),
    ];
    for (text, expected) in cases {
        let err = parse(text).expect_err(text);
        assert!(
            err.to_string().contains(expected),
            "`{text}` gave `{err}`, wanted `{expected}`"
        );
    }
}

#[test]
fn output_lines_may_not_pose_as_directives() {
    assert!(reason("a\n", &["#@ end"]).contains("reserve"));
}

#[test]
fn autohole_turns_pids_durations_and_addresses_into_holes() {
    assert_eq!(
        autohole("child pid=4242 took 1.5ms"),
        "child pid=[PID] took [ELAPSED]"
    );
    assert_eq!(autohole("x at 0xdeadBEEF, 3s"), "x at [ADDR], [ELAPSED]");
    assert_eq!(autohole("fib(34) = 5702887"), "fib(34) = 5702887");
    assert_eq!(autohole("speedup 1.56x"), "speedup 1.56x");
    assert_eq!(autohole("v1.2ms"), "v1.2ms");
}

#[test]
fn normalise_shows_matching_lines_as_their_patterns() {
    let g = golden("pid=[PID]\n#@ any-order\na\nb\n#@ end\nend [ELAPSED]\n");
    let shown = normalise(&g, "pid=5\nb\na\nend 3ms\n");
    assert_eq!(
        shown,
        [
            "pid=[PID]",
            "#@ any-order",
            "a",
            "b",
            "#@ end",
            "end [ELAPSED]"
        ]
    );
    assert_eq!(shown, render_without_comments(&g));
    let shown = normalise(&g, "pid=5\nb\nc\nend 3ms\n");
    assert_eq!(
        shown,
        [
            "pid=[PID]",
            "#@ any-order",
            "b",
            "c",
            "#@ end",
            "end [ELAPSED]"
        ]
    );
}

/// Many `[..]` holes against a line that does not
/// match stop at the step limit instead of trying every split.
#[test]
fn many_holes_give_up_at_the_step_limit() {
    let pattern = "[..]=".repeat(14) + "X";
    let line = "=".repeat(31);
    let started = std::time::Instant::now();
    assert!(!passes(&pattern, &[&line]));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any text parses to a golden or to an error, never a panic, and
        /// checking any output against a golden that parsed never panics.
        #[test]
        fn arbitrary_text_never_panics(text in "(\\PC|\n|#@ any-order\n|#@ end\n|\\[\\.\\.\\]|\\[PID(:a)?\\]|\\[ELAPSED\\]){0,40}", output in "(\\PC|\n){0,60}") {
            if let Ok(golden) = parse(&text) {
                let _ = check(&golden, &output);
            }
        }

        /// Plain lines (no holes, no directives) are a golden that matches
        /// exactly those lines.
        #[test]
        fn plain_lines_match_themselves(lines in proptest::collection::vec("[a-z0-9 ,.:=()]{0,30}", 1..20)) {
            let text = lines.join("\n") + "\n";
            let golden = parse(&text).unwrap();
            prop_assert!(check(&golden, &text).is_ok());
            let mut changed = lines.clone();
            changed[0].push('!');
            prop_assert!(check(&golden, &(changed.join("\n") + "\n")).is_err());
        }
    }
}
