//! A unified diff of two small texts (a golden and a lesson's output), from a
//! longest-common-subsequence table: quadratic, and fine for a few hundred
//! lines.

/// Renders `expected` against `actual` as a unified diff with 3 lines of
/// context. Empty when they are equal.
pub fn unified(
    expected: &[String],
    actual: &[String],
    expected_name: &str,
    actual_name: &str,
) -> String {
    let ops = edit_script(expected, actual);
    if ops.iter().all(|op| matches!(op, Op::Same(..))) {
        return String::new();
    }
    let mut out = format!("--- {expected_name}\n+++ {actual_name}\n");
    const CONTEXT: usize = 3;
    let changed: Vec<usize> = (0..ops.len())
        .filter(|&i| !matches!(ops[i], Op::Same(..)))
        .collect();
    let mut i = 0;
    while i < changed.len() {
        let start = changed[i].saturating_sub(CONTEXT);
        let mut end = changed[i];
        while i < changed.len() && changed[i] <= end + 2 * CONTEXT + 1 {
            end = changed[i];
            i += 1;
        }
        let end = (end + CONTEXT + 1).min(ops.len());
        let (a0, b0) = positions(&ops[..start]);
        let (a_len, b_len) = positions(&ops[start..end]);
        out += &format!("@@ -{},{a_len} +{},{b_len} @@\n", a0 + 1, b0 + 1);
        for op in &ops[start..end] {
            match op {
                Op::Same(line) => out += &format!(" {line}\n"),
                Op::Delete(line) => out += &format!("-{line}\n"),
                Op::Insert(line) => out += &format!("+{line}\n"),
            }
        }
    }
    cap_lines(out, MAX_DIFF_LINES)
}

/// The most lines a diff shows: enough to see what went wrong; the whole
/// output is saved to a file (hostile-use finding 20).
const MAX_DIFF_LINES: usize = 80;

/// `text` cut after `max` lines, with a last line that says how many more.
fn cap_lines(text: String, max: usize) -> String {
    let total = text.lines().count();
    if total <= max {
        return text;
    }
    let mut out: String = text.lines().take(max).flat_map(|l| [l, "\n"]).collect();
    out += &format!("... and {} more lines of diff\n", total - max);
    out
}

enum Op<'a> {
    Same(&'a str),
    Delete(&'a str),
    Insert(&'a str),
}

fn positions(ops: &[Op]) -> (usize, usize) {
    ops.iter().fold((0, 0), |(a, b), op| match op {
        Op::Same(_) => (a + 1, b + 1),
        Op::Delete(_) => (a + 1, b),
        Op::Insert(_) => (a, b + 1),
    })
}

fn edit_script<'a>(a: &'a [String], b: &'a [String]) -> Vec<Op<'a>> {
    // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut ops) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push(Op::Same(&a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(Op::Delete(&a[i]));
            i += 1;
        } else {
            ops.push(Op::Insert(&b[j]));
            j += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    #[test]
    fn equal_texts_give_no_diff() {
        assert_eq!(unified(&lines("a\nb"), &lines("a\nb"), "x", "y"), "");
    }

    #[test]
    fn a_changed_line_shows_as_minus_and_plus_with_context() {
        let diff = unified(
            &lines("1\n2\n3\n4\n5\n6\n7\n8\n9"),
            &lines("1\n2\n3\n4\nfive\n6\n7\n8\n9"),
            "golden",
            "output",
        );
        assert_eq!(
            diff,
            "--- golden\n+++ output\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn missing_and_extra_lines() {
        let diff = unified(&lines("a\nb\nc"), &lines("a\nc\nd"), "g", "o");
        assert_eq!(diff, "--- g\n+++ o\n@@ -1,3 +1,3 @@\n a\n-b\n c\n+d\n");
    }

    #[test]
    fn a_long_diff_is_cut_and_says_how_much_is_left() {
        let expected: Vec<String> = (0..1000).map(|i| format!("line {i}")).collect();
        let actual: Vec<String> = (0..1000).map(|i| format!("other {i}")).collect();
        let diff = unified(&expected, &actual, "golden", "output");
        assert_eq!(diff.lines().count(), MAX_DIFF_LINES + 1);
        assert!(diff.ends_with("more lines of diff\n"), "{diff}");
    }
}
